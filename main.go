// Command god is GoDocker: a user-aware batch system for containers.
package main

import (
	"os"

	"github.com/godocker/god/command"
)

func main() {
	os.Exit(command.Run(os.Args[1:]))
}
