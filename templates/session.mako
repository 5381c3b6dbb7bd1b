<%inherit file="base.mako"/>
<%def name="title()">${session.method} ${session.path}</%def>
<%def name="head()"><script type="module" src="${base}/static/session.js"></script></%def>
<% export = base + "/profiles/" + session.uuid %>
<% merged = context.get('merged_count', None) %>
## A profile read from a .prof file: no request behind it, so no status, CPU time or response.
<% imported = not merged and session.status is None and not session.response_size and not session.cpu_time %>
<div class="titlebar">
  <h1><span class="method">${session.method}</span> ${session.path}${('?' + session.query) if session.query else ''}${(' (%d session%s merged)' % (merged, '' if merged == 1 else 's')) if merged else ''}</h1>
  % if not merged and not read_only:
  <form method="post" action="${base}/delete/${session.uuid}">
    <input type="hidden" name="${csrf_field}" value="${csrf}">
    <button type="submit" class="danger" data-confirm="Delete this session?">Delete</button>
  </form>
  % endif
</div>
% if merged:
<% asked = context.get('requests') %>
<dl class="summary">
  <dt>Requests</dt><dd>${asked.requests}</dd>
  <dt>From</dt><dd><time datetime="${fmt_iso(asked.first)}">${fmt_time(asked.first)}</time> to <time datetime="${fmt_iso(asked.last)}">${fmt_time(asked.last)}</time></dd>
  <dt>Wall time per request</dt><dd>median ${fmt_ms(asked.median_duration)}, 95th percentile ${fmt_ms(asked.p95_duration)}</dd>
  <dt>CPU time per request</dt><dd>${fmt_ms(session.cpu_time / asked.requests)} on average</dd>
  <dt>Response per request</dt><dd>median ${fmt_bytes(asked.median_size)}, 95th percentile ${fmt_bytes(asked.p95_size)}</dd>
  <dt>Profiler</dt><dd>${profiler_text(session)}</dd>
  <dt>Functions</dt><dd>${len(session.functions)}</dd>
</dl>
<% note = context.get('merge_note') %>
% if note:
<p class="note cut" id="merge-cut" role="status">${note}</p>
<p class="hint">The call tree, flame graph and tables below add up these ${asked.requests} requests.</p>
% else:
<p class="hint">The call tree, flame graph and tables below add up all ${asked.requests} requests.</p>
% endif
% else:
<dl class="summary">
  % if not imported:
  <dt>Status</dt><dd class="${'bad' if session.failed else ''}">${session.status if session.status is not None else '—'}${(' · ' + session.error) if session.error else ''}</dd>
  % endif
  <dt>Wall time</dt><dd>${fmt_ms(session.duration)}</dd>
  % if not imported:
  <dt>CPU time</dt><dd>${fmt_ms(session.cpu_time)}</dd>
  % endif
  <dt>When</dt><dd><time datetime="${fmt_iso(session.started)}">${fmt_time(session.started)}</time></dd>
  <dt>Profiler</dt><dd>${profiler_text(session)}</dd>
  <dt>Functions</dt><dd>${len(session.functions)}</dd>
  % if not imported:
  <dt>Alongside</dt><dd>${'other requests ran at the same time' if session.concurrent else 'no other request'}</dd>
  <dt>Response</dt><dd>${fmt_bytes(session.response_size)}</dd>
  % endif
</dl>
% if session.threads_recorded:
<p class="note cut" id="threads" role="status">Another thread's work is in this profile: ${session.threads_recorded} thread${'' if session.threads_recorded == 1 else 's'} the request started ran under it (cProfile records every thread from Python 3.12 on), ${'its' if session.threads_recorded == 1 else 'their'} functions mixed into the request's and ${'its' if session.threads_recorded == 1 else 'their'} time into the functions that were running meanwhile. The sampling engine profiles the request's own thread only.</p>
% endif
% if session.clipped:
<p class="note cut" id="clipped" role="status">Another thread's work was cut: ${session.clipped} function${'' if session.clipped == 1 else 's'} held more time than the request's own ${fmt_ms(session.duration)} (cProfile records the threads a request starts too, from Python 3.12 on), so ${'its figures are' if session.clipped == 1 else 'their figures are'} cut to the request's time.</p>
% endif
% endif
% if merged:
<% ref = context.get('merge_ref') %>
<p class="exports">Export: <a href="${base}/endpoints/merged.prof?${urlencode(context.get('merge_query'))}" download>.prof</a> (the merged figures)</p>
<form method="get" action="${base}/endpoints/merged" class="controls" id="merge-range">
  <input type="hidden" name="endpoint" value="${ref.endpoint}">
  <label>From <input type="text" name="since" value="${fmt_range(ref.since)}" placeholder="2026-11-26T09:00" size="17"></label>
  <label>to <input type="text" name="until" value="${fmt_range(ref.until)}" placeholder="now" size="17"></label>
  <span class="hint">UTC, or Unix seconds</span>
  <button type="submit">Merge this range</button>
</form>
<form method="get" action="${base}/compare" class="controls" id="merge-compare">
  <input type="hidden" name="b" value="${str(ref)}">
  <label>Compare with <input type="text" name="a" value="${ref.endpoint}@..${fmt_range(ref.since)}" size="48"></label>
  <button type="submit">Compare</button>
  <span class="hint">an endpoint with @FROM..TO, or a session id</span>
</form>
% else:
<p class="exports">Export:
  <a href="${export}.prof" download>.prof</a> (pstats, snakeviz) ·
  <a href="${export}.speedscope.json" download>speedscope</a> ·
  <a href="${export}.collapsed.txt" download>collapsed stacks</a> (flamegraph.pl, inferno) ·
  <a href="${export}.dot?cutoff=${cutoff}" download>.dot</a> ·
  <a href="${export}.svg?cutoff=${cutoff}" download>.svg</a> ·
  <a href="${export}.json" download>JSON</a>
  % if not read_only:
  · <a href="${export}/versus-median">Compare against its endpoint's median</a>
  % endif
</p>
% endif

<nav class="sections" aria-label="Views of this session">
  <a href="#tree-section">Call tree</a> · <a href="#flame-section">Flame graph</a> ·
  <a href="#stats-section">Statistics</a> · <a href="#graph-section">Call graph</a>
  % if chart:
  · <a href="#packages-section">Packages</a>
  % endif
</nav>
<form method="get" class="controls" id="controls">
  <label>Cutoff <input type="text" name="cutoff" value="${'%g' % cutoff}" size="4" inputmode="decimal" id="cutoff"> %</label>
  <label>Packages <input type="text" name="packages" value="${packages}" placeholder="myapp sqlalchemy" size="24"></label>
  <button type="submit">Apply</button>
  <span class="hint">Functions below the cutoff share of the request's time are hidden.</span>
</form>

<section id="tree-section">
  <h2>Call tree</h2>
  % if session.kind == 'sampled':
  <p class="hint">Built from the sampled call stacks: every path is one the request really took,
  and its time is that of the samples found on it. Click a row to expand it.</p>
  % else:
  <p class="hint">Built from caller/callee pairs: where a function has several callers, the time
  below it is shared out in proportion (an estimate). Click a row to expand it.
  % if recursive:
  ${recursive} function${'' if recursive == 1 else 's'} call${'s' if recursive == 1 else ''} ${'itself' if recursive == 1 else 'themselves'} directly or through others; the tree does not expand a function inside itself (marked ↻).
  % endif
  </p>
  % endif
  <div id="tree" class="tree" role="tree" aria-label="Call tree (arrow keys move and open rows)"></div>
</section>

<section id="flame-section">
  <h2>Flame graph</h2>
  <p class="hint">Each bar is a call path; width is its share of the request's time${' (from the sampled stacks)' if session.kind == 'sampled' else ' (estimated from caller/callee pairs)'}, its colour its package's, as in the package chart. Point at a bar (or Tab to it) for its full name and figures; click it to zoom, click the top bar or the path above to zoom out.</p>
  % if chart:
  <p class="flame-key"><span class="visually-hidden">Colours by package:</span>
    % for slice in chart:
    <span><svg class="swatch" viewBox="0 0 10 10" width="10" height="10" aria-hidden="true"><rect width="10" height="10" fill="${slice['colour']}"/></svg> ${slice['name']}</span>
    % endfor
  </p>
  % endif
  <div class="flame-tools">
    <nav id="flame-crumbs" class="crumbs" aria-label="Flame graph zoom"></nav>
    <input type="search" id="flame-search" placeholder="Highlight a function or file" aria-label="Highlight functions in the flame graph">
    <span id="flame-matched" class="hint" aria-live="polite"></span>
  </div>
  <div id="flame" class="flame"></div>
</section>

% if chart:
<section id="packages-section">
  <h2>Own time per package</h2>
  <div class="chart">
    <svg viewBox="0 0 100 100" width="220" height="220" role="img" aria-label="Own time per package">
      % for slice in chart:
      <path d="${slice['path']}" fill="${slice['colour']}"><title>${slice['name']}: ${'%.1f' % (slice['share'] * 100)}%</title></path>
      % endfor
    </svg>
    <table class="legend">
      % for slice in chart:
      <tr><td><svg class="swatch" viewBox="0 0 10 10" width="10" height="10" aria-hidden="true"><rect width="10" height="10" fill="${slice['colour']}"/></svg> ${slice['name']}</td><td class="num">${'%.1f' % (slice['share'] * 100)}%</td><td class="num">${fmt_ms(slice['time'])}</td></tr>
      % endfor
    </table>
  </div>
</section>
% endif

<section id="stats-section">
  <h2>Statistics</h2>
  <input type="search" id="stats-search" placeholder="Filter by function or file" aria-label="Filter functions">
  <div class="table-scroll" tabindex="0" role="region" aria-label="Statistics (scrolls sideways)">
  <table class="stats" id="stats">
    <thead><tr>
      % if session.kind == 'sampled':
      <th class="num" data-sort="calls">samples</th>
      <th class="num" data-sort="own">own time</th>
      <th class="num sorted" data-sort="cum">cumulative</th>
      % else:
      <th class="num" data-sort="calls">ncalls</th>
      <th class="num" data-sort="own">tottime</th>
      <th class="num" data-sort="ownper">percall</th>
      <th class="num sorted" data-sort="cum">cumtime</th>
      <th class="num" data-sort="cumper">percall</th>
      % endif
      <th data-sort="name">file:line function</th>
    </tr></thead>
    <tbody></tbody>
  </table>
  </div>
  <p class="hint" id="stats-more"></p>
</section>

<section id="graph-section">
  <h2>Call graph</h2>
  <p class="hint">Functions at or above the cutoff, shaded by cumulative time. Click one (or Tab to it and press Enter) to mark it in the call tree and the statistics. <button type="button" id="graph-download" disabled>Save as SVG</button></p>
  <p class="hint" id="graph-picked" aria-live="polite"></p>
  <p class="hint" id="graph-overflow" hidden>At a size its labels can be read, the graph is larger than its box: drag it to see the rest, or zoom out with the wheel or the − button.</p>
  <div id="graph" class="graph"><p class="hint">Drawing…</p></div>
</section>

<script type="application/json" id="profile-data">${figures | n}</script>
% if chart:
<script type="application/json" id="flame-colours">${flame_colours | n}</script>
% endif
