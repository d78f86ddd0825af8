package bench

import (
	"bytes"
	"fmt"
	"html"
	"math"
)

// panel is one chart of the cost curves: ours and its floor over the
// ledger sizes.
type panel struct {
	title, unit      string
	ours, floor      []float64
	floorName        string
	goal             float64 // a horizontal line, 0 for none
	goalName         string
	oursName         string
	decimals         int
	floorIsReference bool // the floor is a peer (the empty server), not a lower bound
}

// curvesSVG draws the curves as a hand-written SVG: one panel per figure,
// sizes on a logarithmic x axis, ours solid, its floor dashed.
func curvesSVG(cs []Curve) []byte {
	col := func(f func(Curve) float64) []float64 {
		out := make([]float64, len(cs))
		for i, c := range cs {
			out[i] = f(c)
		}
		return out
	}
	panels := []panel{
		{title: "create, concurrency 1 (p50)", unit: "ms", oursName: "POST /api/admin/api-tokens", floorName: "raw JetStream publish, sync always",
			ours: col(func(c Curve) float64 { return c.CreateP50ms }), floor: col(func(c Curve) float64 { return c.CreateFloorP50ms }), decimals: 2},
		{title: "Verify (random order)", unit: "ns", oursName: "tokenset.VerifyAt", floorName: "SHA-256 + Go map probe",
			ours: col(func(c Curve) float64 { return c.VerifyNs }), floor: col(func(c Curve) float64 { return c.VerifyFloorNs })},
		{title: "list of every token (p50)", unit: "ms", oursName: "GET /api/admin/api-tokens", floorName: "bare net/http, same bytes",
			ours: col(func(c Curve) float64 { return c.ListP50ms }), floor: col(func(c Curve) float64 { return c.ListFloorP50ms }), decimals: 1},
		{title: "resident memory", unit: "MiB", oursName: "tokenledger serve (ledger + NATS)", floorName: "the same, empty",
			ours: col(func(c Curve) float64 { return float64(c.RSSBytes) / (1 << 20) }), floor: col(func(c Curve) float64 { return float64(c.EmptyRSSBytes) / (1 << 20) }),
			floorIsReference: true},
		{title: "Go heap per token", unit: "B", oursName: "live heap / tokens", goal: 400, goalName: "goal: 400 B",
			ours: col(func(c Curve) float64 { return float64(c.HeapPerToken) })},
		{title: "cold start (median)", unit: "ms", oursName: "spawn to /ready 200", floorName: "spawn of `version`",
			ours: col(func(c Curve) float64 { return c.ColdReadyMs }), floor: col(func(c Curve) float64 { return c.ColdFloorMs })},
	}
	sizes := col(func(c Curve) float64 { return float64(c.Tokens) })
	const pw, ph, cols = 380, 250, 3
	rows := (len(panels) + cols - 1) / cols
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n",
		pw*cols, ph*rows+30, pw*cols, ph*rows+30)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="20" font-size="14" font-weight="bold">tokenledger cost curves: each figure (solid) beside its floor measured in the same run (dashed); tokenledger bench --sizes</text>`+"\n")
	for i, p := range panels {
		drawPanel(&b, p, sizes, float64((i%cols)*pw), float64(30+(i/cols)*ph), pw, ph)
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

func drawPanel(b *bytes.Buffer, p panel, sizes []float64, x0, y0 float64, w, h int) {
	const left, right, top, bottom = 55, 15, 38, 45
	pw, ph := float64(w-left-right), float64(h-top-bottom)
	ox, oy := x0+left, y0+top+ph // the plot's origin, bottom left
	ymax := p.goal
	for _, v := range append(append([]float64{}, p.ours...), p.floor...) {
		ymax = math.Max(ymax, v)
	}
	ymax = niceCeil(ymax * 1.1)
	lo, hi := math.Log10(sizes[0]), math.Log10(sizes[len(sizes)-1])
	if hi-lo < 1e-9 {
		lo, hi = lo-0.5, hi+0.5
	} else {
		pad := (hi - lo) * 0.08
		lo, hi = lo-pad, hi+pad
	}
	xAt := func(size float64) float64 { return ox + (math.Log10(size)-lo)/(hi-lo)*pw }
	yAt := func(v float64) float64 { return oy - v/ymax*ph }
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" font-size="12" font-weight="bold">%s (%s)</text>`+"\n", x0+10, y0+16, esc(p.title), esc(p.unit))
	// Axes, y grid and labels.
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", ox, oy, ox+pw, oy)
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", ox, oy, ox, oy-ph)
	for k := 0; k <= 4; k++ {
		v := ymax * float64(k) / 4
		y := yAt(v)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", ox, y, ox+pw, y)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", ox-4, y+4, axisNum(v))
	}
	for _, s := range sizes {
		x := xAt(s)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", x, oy, x, oy+4)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", x, oy+16, sizeLabel(s))
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#555">tokens (log scale)</text>`+"\n", ox+pw/2, oy+30)
	if p.goal > 0 {
		y := yAt(p.goal)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#d62728" stroke-dasharray="2,3"/>`+"\n", ox, y, ox+pw, y)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end" fill="#d62728">%s</text>`+"\n", ox+pw, y-3, esc(p.goalName))
	}
	line := func(vals []float64, style string) {
		var pts bytes.Buffer
		for i, v := range vals {
			fmt.Fprintf(&pts, "%.1f,%.1f ", xAt(sizes[i]), yAt(v))
		}
		fmt.Fprintf(b, `<polyline fill="none" %s points="%s"/>`+"\n", style, bytes.TrimSpace(pts.Bytes()))
		for i, v := range vals {
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="2.5" %s/>`+"\n", xAt(sizes[i]), yAt(v), style)
		}
	}
	if len(p.floor) > 0 {
		line(p.floor, `stroke="#888" stroke-width="1.5" stroke-dasharray="5,3"`)
	}
	line(p.ours, `stroke="#1f77b4" stroke-width="2"`)
	for i, v := range p.ours {
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#1f77b4">%s</text>`+"\n", xAt(sizes[i]), yAt(v)-6, axisNum(v))
	}
	// Legend.
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" fill="#1f77b4">— %s</text>`+"\n", x0+10, y0+30, esc(p.oursName))
	if p.floorName != "" {
		name := "floor: " + p.floorName
		if p.floorIsReference {
			name = "peer: " + p.floorName
		}
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" fill="#888" text-anchor="end">- - %s</text>`+"\n", x0+float64(w)-right, y0+30, esc(name))
	}
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func axisNum(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func sizeLabel(s float64) string {
	switch {
	case s >= 1e6 && math.Mod(s, 1e6) == 0:
		return fmt.Sprintf("%.0fM", s/1e6)
	case s >= 1e3 && math.Mod(s, 1e3) == 0:
		return fmt.Sprintf("%.0fk", s/1e3)
	}
	return fmt.Sprintf("%.0f", s)
}

func esc(s string) string { return html.EscapeString(s) }
