package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/wsbench/wsbench/servers"
)

func serveCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var cfg servers.ServeConfig
	cfg.RegisterFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: wsbench serve --server NAME [flags]\n\n"+
			"Serves /echo, /broadcast and /stats, prints one ready line with its address,\n"+
			"and on SIGTERM or Ctrl-C stops accepting, closes every connection with 1001, and exits.\nServers: %s\n\nFlags:\n",
			strings.Join(servers.Names(), ", "))
		fs.PrintDefaults()
	}
	if _, err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if cfg.Name == "" {
		return usagef("--server is required (known: %s)", strings.Join(servers.Names(), ", "))
	}
	srv, err := servers.Lookup(cfg.Name)
	if err != nil {
		return usagef("--server: %v", err)
	}
	if err := cfg.Check(); err != nil {
		return usagef("%v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cfg.ReusePort {
		ln, err := servers.ListenReusePort(cfg.Listen)
		if err != nil {
			return fmt.Errorf("listen on %s with --reuse-port: %w", cfg.Listen, err)
		}
		return servers.ServeOn(ctx, srv, ln, cfg.Settings, stdout)
	}
	return servers.Serve(ctx, srv, cfg.Listen, cfg.Settings, stdout)
}
