package badclients

import (
	"errors"
	"fmt"
	"os/exec"
)

// VanishSupport says why vanish is not offered. A client that disappears
// without FIN or RST needs a link that can be taken down under it, which
// means its socket lives in a network namespace of its own joined to the
// server by a veth pair. The namespace is probed by starting a child in a
// new one (unshare(CLONE_NEWNET)); but even where that works, a client in
// another namespace cannot reach a server on 127.0.0.1 here: loopback
// belongs to each namespace, and a veth between them needs addresses
// outside 127.0.0.0/8 (or route_localnet changed for the whole host), which
// wsbench does not touch. So the answer is always an error, naming which
// of the two stops it; the kind stays in the table so the refusal is
// explained rather than "unknown kind".
func VanishSupport() error {
	if err := probeNetns(); err != nil {
		return fmt.Errorf("vanish needs network namespaces, which this machine refuses (%v)", err)
	}
	return errors.New("vanish is not offered: network namespaces work here, but a client in its own namespace cannot reach a server on 127.0.0.1 of this one (loopback belongs to each namespace; a veth link needs addresses outside 127.0.0.0/8 or route_localnet changed host-wide)")
}

// probeNetns starts `true` in a new network namespace and reports whether
// that was allowed.
func probeNetns() error {
	path, err := exec.LookPath("true")
	if err != nil {
		return fmt.Errorf("no `true` to probe with: %w", err)
	}
	cmd := exec.Command(path)
	cmd.SysProcAttr = netnsAttr()
	if cmd.SysProcAttr == nil {
		return errors.New("network namespaces are Linux only")
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("unshare(CLONE_NEWNET): %w", err)
	}
	return nil
}
