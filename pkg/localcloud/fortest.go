package localcloud

import (
	"context"
	"errors"
	"testing"
)

// ForTest starts a fresh local cloud for one test and stops it when the test
// ends, dumping the tail of moto's log if the test failed. A missing moto is
// a test failure, never a skip: the suite needs the emulator.
func ForTest(t testing.TB) *Cloud {
	t.Helper()
	c, err := Start(context.Background(), Options{Dir: t.TempDir()})
	if err != nil {
		if errors.Is(err, ErrMotoMissing) {
			t.Fatalf("the local cloud needs moto_server: %v", err)
		}
		t.Fatalf("starting local cloud: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("moto log tail (%s):\n%s", c.LogPath, c.LogTail(40))
		}
		if err := c.Close(); err != nil {
			t.Errorf("stopping local cloud: %v", err)
		}
	})
	return c
}
