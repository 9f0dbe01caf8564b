//go:build !linux

package main

// stopWithParent is Linux-only (prctl); elsewhere stop the manager itself.
func stopWithParent() {}
