// Command etcd runs a single-member etcd for the local control plane of tests/cluster
// (`make e2e`). It embeds go.etcd.io/etcd/server/v3 at the version k8s.io/kubernetes pins (the
// etcd kube-apiserver is tested against), so no etcd binary is downloaded or installed.
//
// It listens for clients on -client (plain http on loopback, as kube-apiserver's own
// integration tests do) and exits, closing the store cleanly, on SIGTERM or SIGINT.
package main

import (
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

func main() {
	dataDir := flag.String("data-dir", "", "directory for the member's data (required)")
	client := flag.String("client", "http://127.0.0.1:2379", "client URL to listen on")
	peer := flag.String("peer", "http://127.0.0.1:2380", "peer URL to listen on (nothing joins it)")
	flag.Parse()
	if err := run(*dataDir, *client, *peer); err != nil {
		fmt.Fprintln(os.Stderr, "etcd:", err)
		os.Exit(1)
	}
}

func run(dataDir, client, peer string) error {
	if dataDir == "" {
		return fmt.Errorf("-data-dir is required")
	}
	clientURL, err := url.Parse(client)
	if err != nil {
		return fmt.Errorf("-client: %w", err)
	}
	peerURL, err := url.Parse(peer)
	if err != nil {
		return fmt.Errorf("-peer: %w", err)
	}
	cfg := embed.NewConfig()
	cfg.Name = "e2e"
	cfg.Dir = dataDir
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*clientURL}, []url.URL{*clientURL}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*peerURL}, []url.URL{*peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.LogLevel = "warn"
	// A throwaway store on a shared test machine: fsync only costs time.
	cfg.UnsafeNoFsync = true

	server, err := embed.StartEtcd(cfg)
	if err != nil {
		return err
	}
	defer server.Close()
	select {
	case <-server.Server.ReadyNotify():
		fmt.Println("etcd ready on", clientURL)
	case <-time.After(60 * time.Second):
		return fmt.Errorf("not ready after 60 s")
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-stop:
		return nil
	case err := <-server.Err():
		return err
	}
}
