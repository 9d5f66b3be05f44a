package localcloud_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"

	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
)

// AWS Organizations over the wire, as bucketmirror's organization sweep
// reads it: member accounts created in the local Organization, ListAccounts
// paged, a closed account SUSPENDED in the State field (Status retires on
// 9 September 2026) — stock moto 5.2.1, no launcher patch.
func TestOrganizationOverTheWire(t *testing.T) {
	cloud := localcloud.ForTest(t)
	ctx := context.Background()
	var ids []string
	for _, name := range []string{"active-a", "active-b", "closed"} {
		id, err := cloud.CreateMemberAccount(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := cloud.CloseAccount(ctx, ids[2]); err != nil {
		t.Fatal(err)
	}
	org := organizations.NewFromConfig(cloud.AWSConfig())
	states := map[string]orgtypes.AccountState{}
	pages := 0
	p := organizations.NewListAccountsPaginator(org, &organizations.ListAccountsInput{MaxResults: aws.Int32(1)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, a := range page.Accounts {
			states[aws.ToString(a.Id)] = a.State
		}
	}
	want := map[string]orgtypes.AccountState{localcloud.AccountID: orgtypes.AccountStateActive, ids[0]: orgtypes.AccountStateActive,
		ids[1]: orgtypes.AccountStateActive, ids[2]: orgtypes.AccountStateSuspended}
	for id, state := range want {
		if states[id] != state {
			t.Errorf("account %s: State %q, want %q (all: %v)", id, states[id], state, states)
		}
	}
	if len(states) != len(want) || pages < len(want) {
		t.Errorf("%d pages of MaxResults 1 listed %d accounts, want %d", pages, len(states), len(want))
	}
	if err := cloud.CloseAccount(ctx, ids[2]); err == nil {
		t.Error("closing a closed account again succeeded; Organizations refuses it (AccountAlreadyClosedException)")
	}
}
