package command

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/godocker/god/api"
)

// LogoutCommand revokes the saved token and deletes it.
type LogoutCommand struct {
	Meta
}

func (c *LogoutCommand) Synopsis() string { return "Revoke the saved token and delete it" }

func (c *LogoutCommand) Help() string {
	return strings.TrimSpace(`
Usage: god logout [options]

  Revoke the token "god login" saved (the agent refuses it from then on)
  and delete the file that holds it. The token is sent to the agent that
  issued it, the address saved with it. The file is deleted even when the
  agent cannot be reached; the command then says so and exits 1, since the
  token stays valid until it expires.

  A token in GOD_TOKEN is not revoked: unset the variable yourself.

` + generalOptionsUsage + `
    With -address, the saved token must be for that address.`)
}

func (c *LogoutCommand) Run(args []string) int {
	fs := c.FlagSet("logout", false)
	if !c.parseFlags(fs, args, c.Help()) {
		return 1
	}
	if fs.NArg() != 0 {
		c.Ui.Error("This command takes no arguments")
		return 1
	}
	path, err := tokenPath()
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error: %s", err))
		return 1
	}
	code := c.logout(path)
	if os.Getenv(api.EnvToken) != "" {
		c.Ui.Warn("GOD_TOKEN is still set in your environment: commands keep sending it until you unset it.")
	}
	return code
}

func (c *LogoutCommand) logout(path string) int {
	t, err := loadToken(path)
	if errors.Is(err, fs.ErrNotExist) {
		c.Ui.Output(fmt.Sprintf("Not logged in: there is no saved token (%s).", path))
		return 0
	}
	var exposed *exposedError
	switch {
	case t != nil && errors.As(err, &exposed):
		// The caller's own token, open to others: revoke it, it may have
		// leaked.
		c.Ui.Warn(fmt.Sprintf("Warning: the token file %s was open to others (mode %#o): revoking the token, which may have leaked.", path, exposed.perm))
	case err != nil:
		// Maybe not the caller's: not to be sent anywhere, but to be gone.
		c.Ui.Warn(fmt.Sprintf("Warning: %s", err))
		return c.remove(path, "without revoking it", 1)
	}
	if c.address != "" && !sameAddress(c.address, t.Address) {
		c.Ui.Error(fmt.Sprintf("Error: the saved token is for %s, not %s; run `god logout` without -address to log out of %s", t.Address, c.address, t.Address))
		return 1
	}
	if t.expired(time.Now()) {
		return c.remove(path, fmt.Sprintf("(the login as %s at %s had expired)", t.Login, t.Address), 0)
	}
	client, err := api.NewClient(&api.Config{Address: t.Address, Token: t.Token})
	if err == nil {
		err = client.Accounts().Logout(context.Background())
	}
	var ae *api.APIError
	switch {
	case err == nil:
		return c.remove(path, fmt.Sprintf("after revoking the login as %s at %s", t.Login, t.Address), 0)
	case errors.As(err, &ae) && ae.StatusCode == http.StatusUnauthorized:
		// Expired or revoked already: nothing left to revoke.
		return c.remove(path, fmt.Sprintf("(the agent at %s no longer accepted it: %s)", t.Address, ae.Message), 0)
	default:
		c.Ui.Error(fmt.Sprintf("Error: cannot revoke the token at %s: %s", t.Address, err))
		c.Ui.Error(fmt.Sprintf("The token stays valid until %s.", formatTime(&t.Expires)))
		return c.remove(path, "without revoking it", 1)
	}
}

// remove deletes the saved token, saying how the logout went.
func (c *LogoutCommand) remove(path, how string, code int) int {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.Ui.Error(fmt.Sprintf("Error deleting the saved token %s: %s", path, err))
		return 1
	}
	msg := fmt.Sprintf("Deleted the saved token %s %s.", path, how)
	if code == 0 {
		c.Ui.Output(msg)
	} else {
		c.Ui.Error(msg)
	}
	return code
}
