package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// pipeFill returns how many bytes wait to be read from the pipe r.
func pipeFill(r *os.File) (int, error) { return unix.IoctlGetInt(int(r.Fd()), unix.TIOCINQ) }
