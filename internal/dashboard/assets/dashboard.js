// pgsurreal dashboard: polls /ui/data.json and /ui/panels, keeps a rolling
// window of polls in memory and draws each chart as inline SVG. What each
// line shows comes from its <path>'s data attributes (kind, metric, q),
// rendered by the server; the script writes back data-points, data-last and
// data-max (the latest and the highest value in the window).
'use strict';

(() => {
  const SVG = 'http://www.w3.org/2000/svg';
  const pollMS = Number(document.body.dataset.pollMs) || 2000;
  const windowMS = (Number(document.body.dataset.windowS) || 600) * 1000;
  const samples = []; // {t: ms, v: values, h: histograms}, oldest first

  const pad = (n) => String(n).padStart(2, '0');
  const clock = (t) => {
    const d = new Date(t);
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  };
  const num = (x) => (typeof x === 'number' && Number.isFinite(x) ? x : null);

  // fmt formats a value of a chart's unit: seconds or per second.
  function fmt(unit, v) {
    if (v === null) return '—';
    if (unit === 's') {
      if (v === 0) return '0 s';
      if (v < 0.001) return `${(v * 1e6).toFixed(0)} µs`;
      if (v < 1) return `${(v * 1000).toFixed(v < 0.01 ? 1 : 0)} ms`;
      return `${v.toFixed(v < 10 ? 2 : 1)} s`;
    }
    if (v === 0) return '0/s';
    if (v >= 1000) return `${(v / 1000).toFixed(1)}k/s`;
    return `${v.toFixed(v < 10 ? 1 : 0)}/s`;
  }

  // rate is a counter's increase per second between two polls; a counter
  // that went down was reset (the daemon restarted) and counts from 0.
  function rate(prev, cur, metric) {
    const a = num(prev.v[metric]);
    const b = num(cur.v[metric]);
    const dt = (cur.t - prev.t) / 1000;
    if (a === null || b === null || dt <= 0) return null;
    const d = b >= a ? b - a : b;
    return d / dt;
  }

  // quantile estimates the q-quantile of the observations a histogram
  // received between two polls, interpolating linearly inside the bucket
  // that holds it (as Prometheus' histogram_quantile does); null when
  // there were none.
  function quantile(prev, cur, q) {
    if (!prev || !cur) return null;
    let total = cur.count - prev.count;
    let buckets = cur.buckets.map((b, i) => ({ le: b.le, c: b.count - (prev.buckets[i] ? prev.buckets[i].count : 0) }));
    if (total < 0 || buckets.some((b) => b.c < 0) || prev.buckets.length !== cur.buckets.length) {
      total = cur.count; // reset: everything counted since
      buckets = cur.buckets.map((b) => ({ le: b.le, c: b.count }));
    }
    if (total <= 0) return null;
    const rank = q * total;
    let lo = 0;
    let below = 0;
    for (const b of buckets) {
      if (b.c >= rank) {
        return b.c === below ? b.le : lo + ((b.le - lo) * (rank - below)) / (b.c - below);
      }
      lo = b.le;
      below = b.c;
    }
    return lo; // in the +Inf bucket: the highest finite bound
  }

  // points computes a line's [time, value] pairs over the window.
  function points(path) {
    const { kind, metric } = path.dataset;
    const q = Number(path.dataset.q);
    const out = [];
    samples.forEach((s, i) => {
      const p = samples[i - 1];
      if (kind === 'gauge') out.push([s.t, num(s.v[metric])]);
      else if (!p) return;
      else if (kind === 'rate') out.push([s.t, rate(p, s, metric)]);
      else if (kind === 'quantile') out.push([s.t, quantile(p.h[metric], s.h[metric], q)]);
    });
    return out;
  }

  // exported says whether the latest poll carried the line's metric.
  function exported(path) {
    const s = samples[samples.length - 1];
    if (!s) return false;
    const m = path.dataset.metric;
    return path.dataset.kind === 'quantile' ? m in s.h : m in s.v;
  }

  // niceMax rounds a maximum up to 1, 2, 2.5 or 5 times a power of ten.
  function niceMax(v, unit) {
    if (!(v > 0)) return unit === 's' ? 0.01 : 1;
    const p = 10 ** Math.floor(Math.log10(v));
    for (const m of [1, 2, 2.5, 5, 10]) {
      if (v <= m * p) return m * p;
    }
    return 10 * p;
  }

  function el(name, attrs, text) {
    const e = document.createElementNS(SVG, name);
    for (const [k, val] of Object.entries(attrs)) e.setAttribute(k, val);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function drawChart(svg) {
    const unit = svg.dataset.unit;
    const w = Math.max(svg.clientWidth, 200);
    const h = Math.max(svg.clientHeight, 100);
    svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
    const m = { l: 58, r: 10, t: 8, b: 20 };
    const paths = [...svg.querySelectorAll('path[data-series]')];
    const lines = paths.map((p) => ({ path: p, pts: points(p) }));
    let max = 0;
    for (const { pts } of lines) for (const [, v] of pts) if (v !== null && v > max) max = v;
    const ymax = niceMax(max * 1.05, unit);
    const t0 = samples.length ? samples[0].t : 0;
    const t1 = samples.length ? samples[samples.length - 1].t : 1;
    const span = Math.max(t1 - t0, 1);
    const x = (t) => m.l + ((t - t0) / span) * (w - m.l - m.r);
    const y = (v) => h - m.b - (v / ymax) * (h - m.t - m.b);

    const axes = svg.querySelector('g.axes');
    axes.replaceChildren();
    for (const f of [0, 0.5, 1]) {
      const yy = y(ymax * f).toFixed(1);
      axes.append(el('line', { x1: m.l, x2: w - m.r, y1: yy, y2: yy, class: f === 0 ? 'base' : 'grid' }));
      axes.append(el('text', { x: m.l - 6, y: yy, class: 'ylabel', 'text-anchor': 'end', 'dominant-baseline': 'middle' }, fmt(unit, ymax * f)));
    }
    if (samples.length) {
      axes.append(el('text', { x: m.l, y: h - 4, class: 'xlabel', 'text-anchor': 'start' }, clock(t0)));
      axes.append(el('text', { x: w - m.r, y: h - 4, class: 'xlabel', 'text-anchor': 'end' }, clock(t1)));
    }

    let most = 0;
    for (const { path, pts } of lines) {
      let d = '';
      let run = 0;
      let n = 0;
      let last = null;
      let top = null;
      for (const [t, v] of pts) {
        if (v === null) {
          if (run === 1) d += 'h0.01';
          run = 0;
          continue;
        }
        d += `${run ? 'L' : 'M'}${x(t).toFixed(1)} ${y(v).toFixed(1)}`;
        run++;
        n++;
        last = v;
        top = top === null ? v : Math.max(top, v);
      }
      if (run === 1) d += 'h0.01'; // a lone point shows as a dot
      if (d) path.setAttribute('d', d);
      else path.removeAttribute('d');
      path.dataset.points = String(n);
      if (last === null) {
        delete path.dataset.last;
        delete path.dataset.max;
      } else {
        path.dataset.last = String(last);
        path.dataset.max = String(top);
      }
      most = Math.max(most, n);
      const label = document.querySelector(`[data-value-of="${path.dataset.series}"]`);
      if (label) label.textContent = last !== null ? fmt(unit, last) : exported(path) ? 'no data yet' : 'not exported';
    }
    svg.dataset.points = String(most);
    const empty = document.querySelector(`[data-empty-of="${svg.dataset.chart}"]`);
    if (empty) {
      empty.hidden = most > 0;
      empty.textContent = samples.length && !paths.some(exported) ? 'Not exported by this daemon' : 'No data yet';
    }
  }

  function draw() {
    document.querySelectorAll('svg[data-chart]').forEach(drawChart);
  }

  function add(d) {
    const t = Date.parse(d.time);
    if (!Number.isFinite(t)) return;
    if (samples.length && t <= samples[samples.length - 1].t) return;
    samples.push({ t, v: d.values || {}, h: d.histograms || {} });
    while (samples.length && samples[0].t < t - windowMS) samples.shift();
    const u = document.getElementById('updated');
    if (u) u.textContent = `updated ${clock(t)}`;
  }

  // swapPanels replaces each panel by the one the server rendered.
  function swapPanels(html) {
    const doc = new DOMParser().parseFromString(html, 'text/html');
    doc.querySelectorAll('[data-panel]').forEach((fresh) => {
      const cur = document.querySelector(`[data-panel="${CSS.escape(fresh.dataset.panel)}"]`);
      if (cur) cur.replaceWith(document.importNode(fresh, true));
    });
  }

  // banner shows one of the connection banners, or none.
  function banner(id) {
    for (const b of ['offline', 'signedout']) {
      const e = document.getElementById(b);
      if (e) e.hidden = b !== id;
    }
  }

  class SignedOut extends Error {}

  // get fetches a same-origin URL; a redirect to the login form means the
  // session cookie expired.
  async function get(url) {
    const r = await fetch(url, { cache: 'no-store', credentials: 'same-origin' });
    if (r.status === 401 || (r.redirected && new URL(r.url).pathname === '/login')) throw new SignedOut();
    if (!r.ok) throw new Error(`${url}: ${r.status}`);
    return r;
  }

  async function poll() {
    try {
      add(await (await get('/ui/data.json')).json());
      draw();
      swapPanels(await (await get('/ui/panels')).text());
      banner(null);
    } catch (e) {
      banner(e instanceof SignedOut ? 'signedout' : 'offline');
      if (e instanceof SignedOut) return; // stop: signing in again reloads the page
    }
    setTimeout(poll, pollMS);
  }

  window.addEventListener('resize', draw);
  draw();
  poll();
})();
