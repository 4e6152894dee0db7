package metrics

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Server serves a Collector's metrics at /metrics, for a long-lived
// cleaner (cleartokens --every --metrics-listen ADDR). A service that has
// its own registry registers the Collector there instead.
type Server struct {
	ln  net.Listener
	srv *http.Server
}

// Serve listens on addr ("127.0.0.1:9713"; port 0 picks a free one) and
// serves c's metrics, with the Go runtime's and the process's, at /metrics
// until Close.
func Serve(addr string, c *Collector) (*Server, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(c); err != nil {
		return nil, err
	}
	reg.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	// Timeouts, so that slow or half-open clients cannot pile up.
	s := &Server{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second}}
	go s.srv.Serve(ln) //nolint:errcheck // http.ErrServerClosed once Close is called

	return s, nil
}

// Addr is the address it listens on (with the port chosen, for port 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops serving, waiting briefly for requests in flight.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}
