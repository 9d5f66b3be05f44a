package sweep

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Render writes the summary for a human: one line per decision, then the
// counts. indent prefixes every line.
func (s Summary) Render(w io.Writer, indent string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	// The account column appears when the sweep looked in several
	// accounts (BUCKETMIRROR_ACCOUNTS); a one-account table stays as it was.
	accounts := s.Accounts > 1 || len(s.AccountErrors) > 0
	account := func(a string) string {
		if accounts {
			return orDash(a) + "\t"
		}
		return ""
	}
	fmt.Fprintf(tw, "%sSOURCE\t%sREGION\tDESTINATION\tACTION\tWHY\n", indent, map[bool]string{true: "ACCOUNT\t"}[accounts])
	for _, d := range s.Decisions {
		why := d.Reason
		if d.Error != "" {
			why += ": " + d.Error
		}
		fmt.Fprintf(tw, "%s%s\t%s%s\t%s\t%s\t%s\n", indent, d.Source, account(d.SourceAccount), d.Region, orDash(d.Dest), d.Action, OneLine(why, 120))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, e := range s.AccountErrors {
		fmt.Fprintf(w, "%saccount %s not swept (%s): %s\n", indent, e.Account, orDash(e.Code), OneLine(e.Error, 240))
	}
	_, err := fmt.Fprintf(w, "%sscanned %d, started %d, skipped %d, failed %d, invalid %d, detached %d\n",
		indent, s.Scanned, s.Started, s.Skipped, s.Failed, s.Invalid, s.Detached)
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// OneLine folds whitespace and cuts s to n runes, so a long AWS error keeps
// the table readable.
func OneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
