package command

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/term"

	"github.com/godocker/god/api"
)

// sessionFailed is the exit code when the session itself fails (refused,
// cut): as ssh does, one a command rarely uses, so scripts tell the two
// apart.
const sessionFailed = 255

// JobExecCommand runs a command inside a running job.
type JobExecCommand struct {
	Meta
}

func (c *JobExecCommand) Synopsis() string { return "Run a command inside a running job" }

func (c *JobExecCommand) Help() string {
	return strings.TrimSpace(`
Usage: god job exec [options] <ID> -- <command> [args...]

  Run a command inside a running job's container, as the job's user, in
  its job directory, with the job's environment. The command's output and
  exit code are god's; when the session itself fails (refused, or cut), god
  exits with 255.

  Only the job's owner or an admin may; every session is audited. The job
  must be running and not suspended.

Exec Options:

  -i
    Pass standard input to the command (otherwise it gets end of input).

  -t
    Give the command a terminal (implies -i when standard input is one):
    for interactive programs. Output and errors are then one stream.

` + generalOptionsUsage)
}

func (c *JobExecCommand) Run(args []string) int {
	fs := c.FlagSet("job exec", false)
	interactive := fs.Bool("i", false, "")
	tty := fs.Bool("t", false, "")
	if !c.parseFlags(fs, args, c.Help()) {
		return 1
	}
	rest := fs.Args()
	if len(rest) < 2 {
		c.Ui.Error("This command takes a job id and a command: god job exec ID -- CMD [ARGS...]")
		return 1
	}
	id, err := parseJobID(rest[0])
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error: %s", err))
		return 1
	}
	cmd := rest[1:]
	if cmd[0] == "--" {
		cmd = cmd[1:]
	}
	if len(cmd) == 0 {
		c.Ui.Error("Missing the command to run after --")
		return 1
	}
	return c.session(id, cmd, *interactive, *tty)
}

// session runs cmd in job id, wiring the terminal when asked.
func (m *Meta) session(id int64, cmd []string, interactive, tty bool) int {
	client, err := m.Client()
	if err != nil {
		m.Ui.Error(fmt.Sprintf("Error: %s", err))
		return 1
	}
	fd := int(os.Stdin.Fd())
	tty = tty && term.IsTerminal(fd)
	opts := &api.ExecOptions{Command: cmd, TTY: tty}
	if tty {
		interactive = true
		if w, h, err := term.GetSize(fd); err == nil {
			opts.Rows, opts.Cols = uint(h), uint(w)
		}
	}
	// On a terminal, Ctrl-C is a keystroke for the command; without one,
	// it closes the session.
	sigs := []os.Signal{syscall.SIGTERM}
	if !tty {
		sigs = append(sigs, os.Interrupt)
	}
	ctx, stop := signal.NotifyContext(context.Background(), sigs...)
	defer stop()
	s, err := client.Jobs().Exec(ctx, id, opts)
	if err != nil {
		m.Ui.Error(fmt.Sprintf("Error opening a session into job %d: %s", id, err))
		return sessionFailed
	}
	var stdin io.Reader = os.Stdin
	if !interactive {
		stdin = eofReader{}
	}
	if tty {
		old, err := term.MakeRaw(fd)
		if err == nil {
			defer term.Restore(fd, old)
		}
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, syscall.SIGWINCH)
		defer signal.Stop(winch)
		go func() {
			for range winch {
				if w, h, err := term.GetSize(fd); err == nil {
					_ = s.Resize(ctx, uint(h), uint(w))
				}
			}
		}()
	}
	code, err := s.Run(ctx, stdin, os.Stdout, os.Stderr)
	if err != nil {
		if tty {
			fmt.Fprint(os.Stderr, "\r\n")
		}
		if errors.Is(err, context.Canceled) {
			return sessionFailed
		}
		m.Ui.Error(fmt.Sprintf("Error: session into job %d: %s", id, err))
		return sessionFailed
	}
	return code
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// JobSSHCommand opens a shell in a running job.
type JobSSHCommand struct {
	Meta
}

func (c *JobSSHCommand) Synopsis() string { return "Open a shell inside a running job" }

func (c *JobSSHCommand) Help() string {
	return strings.TrimSpace(`
Usage: god job ssh [options] <ID>

  Open an interactive shell (bash) inside a running job's container, as the
  job's user, in its job directory. No sshd or network is needed in the
  image: the session goes through the agent. The shell's exit code is
  god's; 255 when the session itself fails.

  Only the job's owner or an admin may; every session is audited.

` + generalOptionsUsage)
}

func (c *JobSSHCommand) Run(args []string) int {
	fs := c.FlagSet("job ssh", false)
	if !c.parseFlags(fs, args, c.Help()) {
		return 1
	}
	if fs.NArg() != 1 {
		c.Ui.Error("This command takes one argument: a job id")
		return 1
	}
	id, err := parseJobID(fs.Arg(0))
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error: %s", err))
		return 1
	}
	return c.session(id, []string{"/bin/bash", "-i"}, true, true)
}
