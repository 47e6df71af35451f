package app

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/openpsp/openpsp/internal/clientip"
	"github.com/openpsp/openpsp/internal/config"
	"github.com/openpsp/openpsp/internal/obs"
)

// BenchmarkMiddleware is the cost the middleware adds to one request (its
// access line written to a file, as to stderr: the write syscall counts),
// in both log formats; the handler writes 200 bytes.
func BenchmarkMiddleware(b *testing.B) {
	body := make([]byte, 200)
	for _, format := range []string{"text", "json"} {
		b.Run(format, func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "log"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			a := &App{Config: config.Config{PublicURL: "http://127.0.0.1:8080", LogFormat: format, LogLevel: "info", AccessLog: true},
				Log: obs.NewLogger(f, format, "info"), Metrics: obs.NewMetrics(), clients: clientip.NewResolver(nil, clientip.XForwardedFor)}
			mux := http.NewServeMux()
			mux.HandleFunc("POST /api-payment/V4/{name...}", func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Write(body)
			})
			h := a.middleware(mux)
			req := httptest.NewRequest(http.MethodPost, "/api-payment/V4/Charge/CreatePayment?x=1", nil)
			req.RemoteAddr = "192.0.2.1:51234"
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				h.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}
