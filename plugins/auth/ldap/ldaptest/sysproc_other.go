//go:build !linux

package ldaptest

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }
