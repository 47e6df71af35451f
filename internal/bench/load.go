package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Op is one operation of a scenario (a SILENT payment, a checkout = two
// requests, …). It returns an error when the operation failed in any way:
// transport error, HTTP status, V4 status ERROR, unexpected business result.
type Op func(ctx context.Context, w *Worker) error

// Worker is one simulated client: it owns a goroutine, a random source and
// shares the keep-alive connection pool.
type Worker struct {
	ID     int
	Client *http.Client
	Rand   *rand.Rand
	// Seq counts this worker's operations, for unique order ids.
	Seq int
}

// newClient returns an HTTP client whose pool keeps one connection per
// worker alive: the load is c concurrent keep-alive connections, as wrk -c
// would open.
func newClient(concurrency int) *http.Client {
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          concurrency * 2,
		MaxIdleConnsPerHost:   concurrency * 2,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		ResponseHeaderTimeout: 60 * time.Second,
	}
	// Redirects are part of what a scenario checks (hosted pages answer
	// 303): let the scenario see them.
	return &http.Client{Transport: tr, Timeout: 60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// LoadResult is what one load run measured.
type LoadResult struct {
	Ops       int           // operations that started and finished inside the measured window
	Errors    int           // of which failed
	Duration  time.Duration // measured window
	Latencies []time.Duration
	// ErrorSamples are the first distinct error messages, for the report.
	ErrorSamples []string
}

// Throughput is successful operations per second.
func (r LoadResult) Throughput() float64 {
	if r.Duration <= 0 {
		return 0
	}
	return float64(r.Ops-r.Errors) / r.Duration.Seconds()
}

// Percentile returns the latency at quantile q (0..1) of every measured
// operation, failed ones included (a slow error is still slow).
func (r LoadResult) Percentile(q float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	i := int(q*float64(len(r.Latencies))+0.5) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(r.Latencies) {
		i = len(r.Latencies) - 1
	}
	return r.Latencies[i]
}

// Max is the slowest operation.
func (r LoadResult) Max() time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	return r.Latencies[len(r.Latencies)-1]
}

// runLoad drives op from concurrency workers for warmup+duration. Only
// operations that start after the warmup and finish before the end are
// measured; workers stop starting new ones at the end and the run waits for
// in-flight ones (they are not counted). onMeasureStart is called when the
// measured window opens (to snapshot server CPU).
func runLoad(ctx context.Context, client *http.Client, concurrency int, warmup, duration time.Duration, op Op, onMeasureStart func()) LoadResult {
	start := time.Now()
	measureFrom := start.Add(warmup)
	measureTo := measureFrom.Add(duration)
	type workerOut struct {
		lat    []time.Duration
		errors int
		errMsg []string
	}
	outs := make([]workerOut, concurrency)
	var wg sync.WaitGroup
	var once sync.Once
	timer := time.AfterFunc(warmup, func() {
		if onMeasureStart != nil {
			once.Do(onMeasureStart)
		}
	})
	defer timer.Stop()
	for i := 0; i < concurrency; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			w := &Worker{ID: i, Client: client, Rand: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(i)))}
			out := &outs[i]
			out.lat = make([]time.Duration, 0, 4096)
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(measureTo) {
					return
				}
				err := op(ctx, w)
				w.Seq++
				t1 := time.Now()
				if t0.Before(measureFrom) || t1.After(measureTo) {
					continue
				}
				out.lat = append(out.lat, t1.Sub(t0))
				if err != nil && ctx.Err() == nil {
					out.errors++
					if len(out.errMsg) < 3 {
						out.errMsg = append(out.errMsg, err.Error())
					}
				}
			}
		}(i)
	}
	wg.Wait()
	// The caller reads what onMeasureStart wrote: once.Do waits for a
	// callback the timer started and orders its writes before ours (the
	// workers never synchronise with the timer, so the race detector
	// rightly flagged the caller's reads).
	timer.Stop()
	once.Do(func() {})
	var res LoadResult
	res.Duration = duration
	seen := map[string]bool{}
	for _, o := range outs {
		res.Latencies = append(res.Latencies, o.lat...)
		res.Errors += o.errors
		for _, m := range o.errMsg {
			if !seen[m] && len(res.ErrorSamples) < 5 {
				seen[m] = true
				res.ErrorSamples = append(res.ErrorSamples, m)
			}
		}
	}
	res.Ops = len(res.Latencies)
	slices.Sort(res.Latencies)
	return res
}

// HTTPError is an answer with an unexpected HTTP status.
type HTTPError struct {
	Status int
	Body   string
}

func (e *HTTPError) Error() string {
	b := e.Body
	if len(b) > 200 {
		b = b[:200] + "…"
	}
	return fmt.Sprintf("HTTP %d: %s", e.Status, strings.TrimSpace(b))
}

// do sends one request and returns the whole body. Any status other than
// want is an error.
func do(ctx context.Context, c *http.Client, req *http.Request, want int) ([]byte, *http.Response, error) {
	req = req.WithContext(ctx)
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, resp, err
	}
	if resp.StatusCode != want {
		return body, resp, &HTTPError{Status: resp.StatusCode, Body: string(body)}
	}
	return body, resp, nil
}

// errorKinds groups error samples for the report.
func errorKinds(samples []string) string {
	if len(samples) == 0 {
		return ""
	}
	s := append([]string(nil), samples...)
	sort.Strings(s)
	return strings.Join(s, " | ")
}
