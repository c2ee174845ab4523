//go:build !linux

package store

// mapping is unused where releaseMapped does nothing.
type mapping struct{}

// releaseMapped does nothing here; see mapped_linux.go.
func (a *Archive) releaseMapped() {}
