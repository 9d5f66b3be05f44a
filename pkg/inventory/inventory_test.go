package inventory_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/bucketmirror/bucketmirror/pkg/inventory"
	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
)

func TestStore(t *testing.T) {
	cloud := localcloud.ForTest(t)
	ctx := context.Background()
	s := inventory.New(dynamodb.NewFromConfig(cloud.AWSConfig()), "inv-test")
	if err := s.CreateTable(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTable(ctx); err != nil {
		t.Fatalf("CreateTable is not idempotent: %v", err)
	}

	t.Run("leases", func(t *testing.T) {
		if err := s.AcquireLease(ctx, "src", "us-west-2", "sweep-a", time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := s.AcquireLease(ctx, "src", "us-west-2", "sweep-b", time.Minute); !errors.Is(err, inventory.ErrLeaseHeld) {
			t.Fatalf("second owner got the lease: %v", err)
		}
		if err := s.AcquireLease(ctx, "src", "eu-west-1", "sweep-b", time.Minute); err != nil {
			t.Fatalf("a lease on another Region is independent: %v", err)
		}
		if err := s.ReleaseLease(ctx, "src", "us-west-2", "sweep-b"); err != nil {
			t.Fatal(err)
		}
		if err := s.AcquireLease(ctx, "src", "us-west-2", "sweep-b", time.Minute); !errors.Is(err, inventory.ErrLeaseHeld) {
			t.Fatal("releasing someone else's lease freed it")
		}
		if err := s.ReleaseLease(ctx, "src", "us-west-2", "sweep-a"); err != nil {
			t.Fatal(err)
		}
		if err := s.AcquireLease(ctx, "src", "us-west-2", "sweep-b", time.Minute); err != nil {
			t.Fatalf("lease not free after release: %v", err)
		}
		if err := s.AcquireLease(ctx, "expiring", "us-west-2", "sweep-a", -time.Second); err != nil {
			t.Fatal(err)
		}
		if err := s.AcquireLease(ctx, "expiring", "us-west-2", "sweep-b", time.Minute); err != nil {
			t.Fatalf("an expired lease was not taken over: %v", err)
		}
	})

	t.Run("runs keep large snapshots under the item limit", func(t *testing.T) {
		big := []byte(`{"inventory":"` + strings.Repeat("abcdefgh", 100_000) + `"}`) // 800 KB, compressible
		random := make([]byte, 300_000)
		_, _ = rand.Read(random)
		noise := []byte(`"` + hex.EncodeToString(random) + `"`) // 600 KB, incompressible
		run := inventory.Run{Source: "big", Region: "us-west-2", RunID: "r1", StartedAt: "2026-11-25T10:00:00.000Z", Status: inventory.StatusFinished,
			SourceSnapshot: big, DestSnapshot: noise}
		if err := s.PutRun(ctx, run, inventory.Mirror{Source: "big", Region: "us-west-2", Dest: "d", Status: inventory.StatusFinished}); err != nil {
			t.Fatal(err)
		}
		runs, err := s.Runs(ctx, "big", "us-west-2")
		if err != nil || len(runs) != 1 {
			t.Fatalf("runs = %d, %v", len(runs), err)
		}
		if !bytes.Equal(runs[0].SourceSnapshot, big) {
			t.Errorf("compressed snapshot did not round-trip (%d bytes back)", len(runs[0].SourceSnapshot))
		}
		if !strings.Contains(string(runs[0].DestSnapshot), `"truncated":true`) {
			t.Errorf("an incompressible 600 KB snapshot was not replaced by a truncation note: %.80s", runs[0].DestSnapshot)
		}
		m, err := s.GetMirror(ctx, "big", "us-west-2")
		if err != nil || m == nil || m.Dest != "d" || m.Status != inventory.StatusFinished {
			t.Errorf("mirror = %+v, %v", m, err)
		}
		all, err := s.Mirrors(ctx)
		if err != nil || len(all) != 1 || all[0].Source != "big" {
			t.Errorf("Mirrors() = %+v, %v (leases and runs must not be listed)", all, err)
		}
	})
}
