package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// The report's two pictures are drawn with the standard library's image
// packages and x/image's fixed 7×13 font: a plotting library would pull in
// far more than two charts need.

var (
	white     = color.RGBA{255, 255, 255, 255}
	ink       = color.RGBA{40, 40, 40, 255}
	grid      = color.RGBA{225, 225, 225, 255}
	seqColor  = color.RGBA{214, 96, 77, 255}
	concColor = color.RGBA{67, 147, 195, 255}
	// criticalColor marks the calls of the critical path in a timeline.
	criticalColor = color.RGBA{20, 20, 20, 255}
	limitColor    = color.RGBA{90, 90, 90, 255}
)

type canvas struct{ *image.RGBA }

func newCanvas(w, h int) canvas {
	c := canvas{image.NewRGBA(image.Rect(0, 0, w, h))}
	draw.Draw(c.RGBA, c.Bounds(), image.NewUniform(white), image.Point{}, draw.Src)
	return c
}

func (c canvas) rect(x0, y0, x1, y1 int, col color.Color) {
	draw.Draw(c.RGBA, image.Rect(x0, y0, x1, y1), image.NewUniform(col), image.Point{}, draw.Src)
}

func (c canvas) hline(x0, x1, y int, col color.Color) { c.rect(x0, y, x1, y+1, col) }
func (c canvas) vline(x, y0, y1 int, col color.Color) { c.rect(x, y0, x+1, y1, col) }

// dashed draws a horizontal dashed line (the physical limit).
func (c canvas) dashed(x0, x1, y int, col color.Color) {
	for x := x0; x < x1; x += 6 {
		c.rect(x, y, min(x+3, x1), y+1, col)
	}
}

// text draws s with its baseline at y; align is 'l', 'c' or 'r' about x.
func (c canvas) text(x, y int, s string, align byte, col color.Color) {
	d := &font.Drawer{Dst: c.RGBA, Src: image.NewUniform(col), Face: basicfont.Face7x13}
	w := d.MeasureString(s).Round()
	switch align {
	case 'c':
		x -= w / 2
	case 'r':
		x -= w
	}
	d.Dot = fixed.P(x, y)
	d.DrawString(s)
}

func (c canvas) png() ([]byte, error) {
	var b bytes.Buffer
	err := png.Encode(&b, c.RGBA)
	return b.Bytes(), err
}

// niceMax rounds v up to an axis end that divides into four round ticks.
func niceMax(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 1.2, 1.6, 2, 2.4, 3, 4, 5, 6, 8, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// Chart files, next to report.md.
const (
	configureChartFile = "configure-speed.png"
	timelineChartFile  = "configure-timeline-100ms.png"
	newMirrorChartFile = "new-mirror-timeline-100ms.png"
)

func writeConfigureCharts(dir string, c *configureResult, nm *newMirrorResult) error {
	speed, err := configureChart(c)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, configureChartFile), speed, 0o644); err != nil {
		return err
	}
	charts := map[string][]timedCall{timelineChartFile: c.TimelineAt100}
	titles := map[string]string{timelineChartFile: "One concurrent configure at 100 ms each way"}
	if nm != nil {
		charts[newMirrorChartFile] = nm.Timeline
		titles[newMirrorChartFile] = "One new mirror (create, then configure) at 100 ms each way"
	}
	for file, calls := range charts {
		if len(calls) == 0 {
			continue
		}
		png, err := timelineChart(calls, titles[file])
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, file), png, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// configureChart draws one panel per latency level, each on its own scale
// (100 ms would flatten the others on a shared one): the sequential and the
// concurrent median with their p10–p90 range, and the physical limit.
func configureChart(c *configureResult) ([]byte, error) {
	const (
		panelW, panelH = 210, 300
		top, bottom    = 56, 44
		left           = 52
	)
	n := len(c.Levels)
	cv := newCanvas(left+n*panelW+10, top+panelH+bottom)
	cv.text(cv.Bounds().Dx()/2, 18, fmt.Sprintf("Configure one bucket with %d kinds: median run time (p10-p90), sequential vs concurrent", len(c.Kinds)), 'c', ink)
	cv.rect(left, 30, left+10, 40, seqColor)
	cv.text(left+14, 40, "sequential (the blog's order)", 'l', ink)
	cv.rect(left+230, 30, left+240, 40, concColor)
	cv.text(left+244, 40, "dependency-ordered concurrent", 'l', ink)
	cv.dashed(left+460, left+480, 35, limitColor)
	cv.text(left+484, 40, "limit: (depth+1) x RTT", 'l', ink)
	for i, l := range c.Levels {
		x0 := left + i*panelW
		axisMax := niceMax(max(l.Sequential.P90, l.Sequential.Median) * 1.1)
		y := func(ms float64) int { return top + panelH - int(ms/axisMax*float64(panelH)) }
		for t := 0.0; t <= axisMax+1e-9; t += axisMax / 4 {
			cv.hline(x0+4, x0+panelW-14, y(t), grid)
			cv.text(x0, y(t)+4, axisLabel(t), 'r', ink)
		}
		cv.vline(x0+4, top, top+panelH+1, ink)
		bars := []struct {
			s   stats
			col color.Color
		}{{l.Sequential, seqColor}, {l.Concurrent, concColor}}
		for j, b := range bars {
			bx := x0 + 30 + j*80
			cv.rect(bx, y(b.s.Median), bx+50, top+panelH, b.col)
			cv.vline(bx+25, y(b.s.P90), y(b.s.P10)+1, ink)
			cv.hline(bx+19, bx+32, y(b.s.P90), ink)
			cv.hline(bx+19, bx+32, y(b.s.P10), ink)
			cv.text(bx+25, y(max(b.s.Median, b.s.P90))-4, fmt.Sprintf("%.0f", b.s.Median), 'c', ink)
		}
		if l.LimitMS != nil {
			cv.dashed(x0+6, x0+panelW-14, y(*l.LimitMS), limitColor)
		}
		cv.hline(x0+4, x0+panelW-14, top+panelH, ink)
		cv.text(x0+panelW/2-5, top+panelH+16, fmt.Sprintf("%d ms each way", l.LatencyMS), 'c', ink)
		cv.text(x0+panelW/2-5, top+panelH+32, fmt.Sprintf("speedup %.2fx", l.Speedup), 'c', ink)
	}
	cv.text(10, top-6, "ms", 'l', ink)
	return cv.png()
}

func axisLabel(ms float64) string {
	if ms >= 1000 {
		return fmt.Sprintf("%gs", ms/1000)
	}
	return fmt.Sprintf("%.0f", ms)
}

// timelineChart draws every call of one concurrent run as a bar from its
// start to its end, in start order: the steps in it are the round trips the
// run waits for one after another.
func timelineChart(calls []timedCall, title string) ([]byte, error) {
	const (
		left, right = 330, 30
		top, bottom = 40, 36
		rowH        = 14
		plotW       = 620
	)
	end := 0.0
	for _, tc := range calls {
		end = max(end, tc.EndMS)
	}
	axisMax := niceMax(end)
	cv := newCanvas(left+plotW+right, top+len(calls)*rowH+bottom)
	cv.text(cv.Bounds().Dx()/2, 18, fmt.Sprintf("%s: %d calls over %.0f ms", title, len(calls), end), 'c', ink)
	x := func(ms float64) int { return left + int(ms/axisMax*plotW) }
	for t := 0.0; t <= axisMax+1e-9; t += axisMax / 4 {
		cv.vline(x(t), top, top+len(calls)*rowH, grid)
		cv.text(x(t), top+len(calls)*rowH+16, fmt.Sprintf("%.0f ms", t), 'c', ink)
	}
	for i, tc := range calls {
		y := top + i*rowH
		col := concColor
		switch {
		case tc.Critical:
			col = criticalColor
		case strings.Contains(tc.Op, ".Put") || strings.Contains(tc.Op, ".Delete") || strings.Contains(tc.Op, ".Create"):
			col = seqColor
		}
		cv.rect(x(tc.StartMS), y+1, max(x(tc.EndMS), x(tc.StartMS)+1), y+rowH-1, col)
		cv.text(left-6, y+rowH-2, strings.TrimPrefix(tc.Op, "S3."), 'r', ink)
	}
	cv.text(left, top+len(calls)*rowH+32, "blue: reads, red: writes, black: the critical path (each call the one the next waited for)", 'l', ink)
	return cv.png()
}
