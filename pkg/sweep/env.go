package sweep

import (
	"context"
	"errors"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/bucketmirror/bucketmirror/pkg/mirror"
)

// Setup builds a Sweeper the way the sweep Lambda and `bucketmirror sweep`
// do, from one loaded aws.Config and the environment (getenv): the
// mirrorer's settings (mirror.ConfigFromEnv), the sweep's (ConfigFromEnv),
// and a LocalStarter when local, else an SFNStarter on
// BUCKETMIRROR_STATE_MACHINE_ARN. Without BUCKETMIRROR_ACCOUNT_ID the
// account is the caller's (one STS GetCallerIdentity call).
func Setup(ctx context.Context, cfg aws.Config, getenv func(string) string, local bool, log *slog.Logger) (*Sweeper, error) {
	m, err := mirror.Setup(ctx, cfg, getenv, log)
	if err != nil {
		return nil, err
	}
	account := m.Engine.Options().AccountID
	sc, err := ConfigFromEnv(func(name string) string {
		if name == "BUCKETMIRROR_ACCOUNT_ID" {
			return account
		}
		return getenv(name)
	})
	if err != nil {
		return nil, err
	}
	var starter Starter = &LocalStarter{Mirrorer: m}
	if !local {
		machine := getenv("BUCKETMIRROR_STATE_MACHINE_ARN")
		if machine == "" {
			return nil, errors.New("BUCKETMIRROR_STATE_MACHINE_ARN is not set: name the deployed state machine, or run the workflows in-process (--local)")
		}
		starter = NewSFNStarter(cfg, machine)
	}
	return New(cfg, sc, m, starter, log)
}
