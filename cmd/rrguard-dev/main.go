// Command rrguard-dev runs rrguard locally (`make run`) and posts a demo
// burst to it (`make demo`). It only wires flags to package devenv.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/rrguard/rrguard/internal/kube"
	"github.com/rrguard/rrguard/test/devenv"
)

func main() {
	fs := flag.NewFlagSet("rrguard-dev", flag.ExitOnError)
	binDir := fs.String("bin-dir", "bin", "The folder with the webhook and gateway binaries.")
	stateDir := fs.String("state-dir", filepath.Join("tmp", "dev"), "The folder for the kubeconfig and the logs; removed on exit.")
	gateway := fs.String("gateway-address", devenv.DefaultGatewayAddress, "Where the gateway serves signals (TLS).")
	namespace := fs.String("namespace", kube.DefaultNamespace, "Where RemediationRequests are created.")
	demo := fs.Bool("demo", false, "Instead of running, post a burst of identical alerts to a running instance and print the resulting RemediationRequests.")
	burst := fs.Int("burst", 50, "How many identical alerts -demo posts at once.")
	_ = fs.Parse(os.Args[1:])

	ctx := ctrl.SetupSignalHandler()
	var err error
	if *demo {
		err = devenv.Demo(ctx, "https://"+*gateway, devenv.GatewayCAPath(*stateDir), devenv.KubeconfigPath(*stateDir), *namespace, *burst, os.Stdout)
	} else {
		err = devenv.Run(ctx, devenv.Options{BinDir: *binDir, StateDir: *stateDir, GatewayAddress: *gateway, Namespace: *namespace, Out: os.Stdout})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "rrguard-dev:", err)
		os.Exit(1)
	}
}
