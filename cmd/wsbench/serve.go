package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/wsbench/wsbench/servers"
)

func serveCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	name := fs.String("server", "", "reference server to run: one of "+fmt.Sprint(servers.Names()))
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on (loopback unless you mean otherwise)")
	def := servers.DefaultSettings()
	readLimit := fs.String("read-limit", fmt.Sprint(def.ReadLimit), "largest message accepted, in bytes")
	readBuf := fs.String("read-buffer", fmt.Sprint(def.ReadBufferSize), "per-connection read buffer, where the library allows")
	writeBuf := fs.String("write-buffer", fmt.Sprint(def.WriteBufferSize), "per-connection write buffer, where the library allows")
	hsTimeout := fs.String("handshake-timeout", def.HandshakeTimeout.String(), "time allowed to read the upgrade request")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: wsbench serve --server NAME [flags]\n\n"+
			"Serves /echo, /broadcast and /stats, prints one ready line with its address,\n"+
			"and closes every connection with 1001 on SIGTERM or Ctrl-C.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if _, err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if *name == "" {
		return usagef("--server is required (known: %v)", servers.Names())
	}
	srv, err := servers.Lookup(*name)
	if err != nil {
		return usagef("--server: %v", err)
	}
	s := def
	rl, err := parseSize("read-limit", *readLimit)
	if err != nil {
		return err
	}
	s.ReadLimit = int64(rl)
	if s.ReadBufferSize, err = parseSize("read-buffer", *readBuf); err != nil {
		return err
	}
	if s.WriteBufferSize, err = parseSize("write-buffer", *writeBuf); err != nil {
		return err
	}
	if s.HandshakeTimeout, err = parseDuration("handshake-timeout", *hsTimeout, false); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return servers.Serve(ctx, srv, *listen, s, stdout)
}
