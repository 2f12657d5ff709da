package testenv

import (
	"fmt"
	"os"
	"time"
)

// RestartAPIServer stops kube-apiserver and starts it again on the same
// port, etcd and certificates, and says how long each took. envtest deletes
// the certificate folder it generated when the API server stops, so the
// folder is copied first and the copy serves from then on; Stop removes it.
func (e *Env) RestartAPIServer() (stop, start time.Duration, err error) {
	as := e.env.ControlPlane.APIServer
	saved, err := os.MkdirTemp("", "rrguard-apiserver-")
	if err != nil {
		return 0, 0, err
	}
	e.leftovers = append(e.leftovers, saved)
	if err := os.CopyFS(saved, os.DirFS(as.CertDir)); err != nil {
		return 0, 0, fmt.Errorf("copy the API server's certificates: %w", err)
	}
	began := time.Now()
	if err := as.Stop(); err != nil {
		return 0, 0, fmt.Errorf("stop the API server: %w", err)
	}
	stopped := time.Now()
	as.CertDir = saved
	if err := as.Start(); err != nil {
		return 0, 0, fmt.Errorf("start the API server again: %w", err)
	}
	return stopped.Sub(began), time.Since(stopped), nil
}
