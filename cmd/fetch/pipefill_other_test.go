//go:build !linux

package main

import (
	"errors"
	"os"
)

func pipeFill(*os.File) (int, error) { return 0, errors.New("not on Linux") }
