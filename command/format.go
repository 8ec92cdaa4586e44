package command

import (
	"fmt"
	"time"

	"github.com/ryanuber/columnize"

	"github.com/godocker/god/api"
)

// formatList renders rows of "a|b|c" as aligned columns.
func formatList(rows []string) string {
	cfg := columnize.DefaultConfig()
	cfg.Empty = "<none>"
	return columnize.Format(rows, cfg)
}

// formatKV renders "key|value" rows as aligned "key = value" lines.
func formatKV(rows []string) string {
	cfg := columnize.DefaultConfig()
	cfg.Empty = "<none>"
	cfg.Glue = " = "
	return columnize.Format(rows, cfg)
}

// statusText is the one-line status of a job: state, secondary, exit code.
func statusText(j *api.Job) string {
	s := j.Status.Primary
	if j.Status.Secondary != "" {
		s += " (" + j.Status.Secondary + ")"
	}
	if j.Status.ExitCode != nil {
		s += fmt.Sprintf(", exit code %d", *j.Status.ExitCode)
	}
	return s
}

func formatTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

func formatDuration(j *api.Job) string {
	if j.Dates.Started == nil {
		return "-"
	}
	end := time.Now()
	if j.Dates.Ended != nil {
		end = *j.Dates.Ended
	}
	return end.Sub(*j.Dates.Started).Round(time.Second).String()
}
