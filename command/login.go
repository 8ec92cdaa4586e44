package command

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/hashicorp/cli"
	"golang.org/x/term"

	"github.com/godocker/god/api"
)

// guestPollInterval is how often `god login -guest` asks whether the
// browser side of the login is done (tests shorten it).
var guestPollInterval = 2 * time.Second

// LoginCommand logs in to an agent and saves the token.
type LoginCommand struct {
	Meta
}

func (c *LoginCommand) Synopsis() string { return "Log in to an agent and save the token" }

func (c *LoginCommand) Help() string {
	return strings.TrimSpace(`
Usage: god login [options]

  Log in to the agent and save the token it gives, so that later commands
  to the same address send it. By default it asks for your password, which
  the site's directory (LDAP) checks. With -apikey-stdin it reads an API key
  from standard input instead: accounts of the agent host's own users log
  in this way (make the key with "god user apikey" on that host). With
  -guest it starts a guest login in your browser.

  The token is saved with its address in $XDG_CONFIG_HOME/god/token.json
  (default ~/.config/god/token.json), readable by you only, and is only ever
  sent to that address. GOD_TOKEN, when set, is sent instead. On the
  agent's own host no login is needed: the Unix socket identifies you.

Login Options:

  -user=<login>
    The account to log in as. Default: $USER.

  -apikey-stdin
    Read an API key (see "god user apikey") from standard input instead of
    asking for a password. Keys are never given as flags: flags show in ps.

  -guest
    Log in as a guest with the site's identity provider (OIDC): open the
    URL it prints in a browser; it waits until you are done (Ctrl-C stops).
    A new guest can run jobs once an admin activates the account.

` + generalOptionsUsage)
}

func (c *LoginCommand) Run(args []string) int {
	fs := c.FlagSet("login", false)
	user := fs.String("user", "", "")
	keyStdin := fs.Bool("apikey-stdin", false, "")
	guest := fs.Bool("guest", false, "")
	if !c.parseFlags(fs, args, c.Help()) {
		return 1
	}
	if fs.NArg() != 0 {
		c.Ui.Error("This command takes no arguments (the login is given with -user)")
		return 1
	}
	if *guest && (*keyStdin || *user != "") {
		c.Ui.Error("-guest takes neither -user nor -apikey-stdin: the identity provider tells who you are")
		return 1
	}
	cfg := c.config()
	client, err := api.NewClient(cfg)
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error: %s", err))
		return 1
	}
	var resp *api.LoginResponse
	if *guest {
		var ok bool
		if resp, ok = c.guestLogin(client); !ok {
			return 1
		}
	} else {
		req := &api.LoginRequest{Login: *user}
		if req.Login == "" {
			req.Login = os.Getenv("USER")
		}
		if req.Login == "" {
			c.Ui.Error("Error: give the account to log in as with -user (USER is not set)")
			return 1
		}
		what := "password"
		if *keyStdin {
			what = "API key"
		}
		warnCleartext(c.Ui, cfg.Address, what)
		secret, err := readSecret(c.Ui, fmt.Sprintf("%s for %s at %s: ", capitalize(what), req.Login, cfg.Address))
		if err != nil {
			c.Ui.Error(fmt.Sprintf("Error reading the %s: %s", what, err))
			return 1
		}
		if *keyStdin {
			secret = strings.TrimSpace(secret)
			req.APIKey = secret
		} else {
			req.Password = secret
		}
		if secret == "" {
			c.Ui.Error(fmt.Sprintf("Error: no %s read from standard input", what))
			return 1
		}
		if resp, err = client.Accounts().Login(context.Background(), req); err != nil {
			c.Ui.Error(fmt.Sprintf("Error logging in as %s at %s: %s", req.Login, cfg.Address, err))
			return 1
		}
	}
	return c.save(cfg.Address, resp)
}

// save keeps the token of a successful login and says who you are.
func (c *LoginCommand) save(address string, resp *api.LoginResponse) int {
	if resp.Token == "" || resp.Account == nil {
		c.Ui.Error("Error: the agent answered the login without a token or an account")
		return 1
	}
	path, err := tokenPath()
	if err == nil {
		err = saveToken(path, &savedToken{Address: address, Login: resp.Account.Login, Token: resp.Token, Expires: resp.Expires})
	}
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error: logged in, but the token cannot be saved: %s", err))
		return 1
	}
	a := resp.Account
	c.Ui.Output(fmt.Sprintf("Logged in to %s as %s (%s account, runs as uid %d).", address, a.Login, a.Kind, a.User.UID))
	c.Ui.Output(fmt.Sprintf("The token expires on %s (in %s); it is saved in %s.", formatTime(&resp.Expires), time.Until(resp.Expires).Round(time.Minute), path))
	if !a.Active {
		c.Ui.Warn(inactiveText(a))
	}
	if os.Getenv(api.EnvToken) != "" {
		c.Ui.Warn("GOD_TOKEN is set: commands send it instead of this login. Unset it to use this login.")
	}
	return 0
}

func inactiveText(a *api.Account) string {
	if a.Kind == api.AccountGuest {
		return fmt.Sprintf("Your guest account %s is not active yet: an admin must activate it (god user update -active=true %s) before you can run jobs.", a.Login, a.Login)
	}
	return fmt.Sprintf("Your account %s is disabled: ask an admin.", a.Login)
}

// guestLogin starts an OIDC guest login and polls until the browser side
// is done or the user presses Ctrl-C.
func (c *LoginCommand) guestLogin(client *api.Client) (*api.LoginResponse, bool) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start, err := client.Accounts().GuestLogin(ctx)
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error starting a guest login at %s: %s", client.Address(), err))
		return nil, false
	}
	c.Ui.Output("Open this URL in a browser to log in:\n\n    " + start.URL + "\n")
	c.Ui.Output("Waiting for the login to finish (Ctrl-C to stop)...")
	tick := time.NewTicker(guestPollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			c.Ui.Error("Guest login stopped: nothing was saved")
			return nil, false
		case <-tick.C:
		}
		res, err := client.Accounts().GuestLoginPoll(ctx, start.ID)
		if ctx.Err() != nil {
			continue // reported above at the next turn
		}
		if err != nil {
			c.Ui.Error(fmt.Sprintf("Error following the guest login: %s", err))
			return nil, false
		}
		if !res.Done {
			continue
		}
		if res.Error != "" {
			c.Ui.Error(fmt.Sprintf("Guest login failed: %s", res.Error))
			return nil, false
		}
		if res.Login == nil {
			c.Ui.Error("Error: the agent ended the guest login without a token")
			return nil, false
		}
		return res.Login, true
	}
}

// readSecret reads a password or key: without echo from a terminal, else
// one line of standard input (for scripts: `god login < file`).
func readSecret(ui cli.Ui, prompt string) (string, error) {
	in, errOut := readers(ui)
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(errOut, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(errOut)
		return string(b), err
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// readers are where a command reads its input and writes its prompts.
func readers(ui cli.Ui) (in io.Reader, errOut io.Writer) {
	_, errOut = writers(ui)
	switch u := ui.(type) {
	case *cli.BasicUi:
		in = u.Reader
	case *cli.MockUi:
		in = u.InputReader
	}
	if in == nil {
		in = os.Stdin
	}
	return in, errOut
}

// warnCleartext warns before a secret crosses a network unencrypted.
func warnCleartext(ui cli.Ui, address, what string) {
	u, err := url.Parse(address)
	if err != nil || u.Scheme != "http" {
		return
	}
	if ip := net.ParseIP(u.Hostname()); (ip != nil && ip.IsLoopback()) || u.Hostname() == "localhost" {
		return
	}
	ui.Warn(fmt.Sprintf("Warning: %s is plain HTTP: your %s and token cross the network unencrypted. Prefer an https:// address.", address, what))
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
