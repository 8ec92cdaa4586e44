package command

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/godocker/god/api"
)

// OperatorAuditCommand lists the audit log.
type OperatorAuditCommand struct {
	Meta
}

func (c *OperatorAuditCommand) Synopsis() string { return "List the audit log" }

func (c *OperatorAuditCommand) Help() string {
	return strings.TrimSpace(`
Usage: god operator audit [options]

  List the audit log, newest first: every change (job submitted, stopped,
  account or project changed, login...) and every refusal, with who did it,
  from where, and why it was refused. Admins see every entry; other users
  their own.

Audit Options:

  -actor=<login>
    Only entries of this user.

  -action=<action>
    Only this action: job.submit, job.stop, user.update, project.create,
    login, logout...

  -since=<duration|time>
    Only entries since this long ago ("24h", "7d") or since this RFC 3339
    time ("2026-11-27T09:00:00Z").

  -limit=<n>
    List at most n entries (the agent's default when not given).
` + jsonOptionUsage + "\n\n" + generalOptionsUsage)
}

func (c *OperatorAuditCommand) Run(args []string) int {
	fs := c.FlagSet("operator audit", true)
	q := &api.AuditQuery{}
	fs.StringVar(&q.Actor, "actor", "", "")
	fs.StringVar(&q.Action, "action", "", "")
	fs.Func("since", "", func(s string) error {
		t, err := parseSince(s, time.Now())
		q.Since = t
		return err
	})
	fs.Func("limit", "", func(s string) error {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return fmt.Errorf("limit must be a positive number of entries, got %q", s)
		}
		q.Limit = n
		return nil
	})
	client, ok := c.noArgs(fs, args, c.Help())
	if !ok {
		return 1
	}
	entries, err := client.Accounts().Audit(context.Background(), q)
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error reading the audit log: %s", err))
		return 1
	}
	if c.json {
		return c.outputJSON(entries)
	}
	if len(entries) == 0 {
		c.Ui.Output("No audit entries")
		return 0
	}
	rows := []string{"Time|Actor|Action|Target|Outcome|Reason|From"}
	for _, e := range entries {
		rows = append(rows, fmt.Sprintf("%s|%s|%s|%s|%s|%s|%s", formatTime(&e.Time), orDash(e.Actor), e.Action,
			orDash(oneLine(e.Target)), e.Outcome, orDash(oneLine(e.Reason)), orDash(e.From)))
	}
	c.Ui.Output(formatList(rows))
	return 0
}

// parseSince reads "24h", "7d" (before now) or an RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if days, ok := strings.CutSuffix(s, "d"); ok && err != nil {
		var n int
		if n, err = strconv.Atoi(days); err == nil {
			d = time.Duration(n) * 24 * time.Hour
		}
	}
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("since must be a duration such as 24h or 7d, or an RFC 3339 time such as 2026-11-27T09:00:00Z, got %q", s)
	}
	return now.Add(-d), nil
}

// oneLine keeps a table row on one line, and the table's column separator
// out of a free-text field.
func oneLine(s string) string {
	return strings.NewReplacer("\n", " ", "\r", " ", "|", "/").Replace(s)
}
