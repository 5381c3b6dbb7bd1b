<%inherit file="base.mako"/>
<%def name="title()">Comparison</%def>
<%def name="head()"><script type="module" src="${base}/static/session.js"></script></%def>
<% r = report %>
<%def name="side(profile, ref, count, named)">
% if not ref.uuid:
<a href="${base}/endpoints/merged?${urlencode(merge_params(ref))}">${ref}</a> (${'%d of %d' % (count, named) if count < named else count} session${'' if named == 1 else 's'} merged, figures per request)\
% else:
<a href="${base}/profiles/${profile.uuid}">${profile.method} ${profile.path}</a>, ${fmt_time(profile.started)}\
% endif
</%def>
<h1>${after.method} ${after.path} <small>compared</small></h1>
<dl class="summary">
  <dt>Before</dt><dd>${side(before, refs[0], counts[0], found[0])}: ${fmt_ms(r['duration_before'])}</dd>
  <dt>After</dt><dd>${side(after, refs[1], counts[1], found[1])}: ${fmt_ms(r['duration_after'])}</dd>
  <dt>Change</dt><dd class="${'bad' if r['duration_change'] > 0 else ''}">${'%+.1f' % (r['duration_change'] * 1000)} ms</dd>
</dl>
% if r['cut']:
<p class="note cut" id="compare-cut" role="status">${r['cut']}</p>
% endif
<p class="exports">Export: <a href="${base}/compare.json?${urlencode({'a': str(refs[0]), 'b': str(refs[1])})}">JSON</a></p>
<nav class="sections" aria-label="Views of this comparison">
  <a href="#changes-section">Changes</a> · <a href="#flame-section">Differential flame graph</a> · <a href="#graph-section">Call graph</a>
</nav>

<section id="changes-section">
<h2>Changes, largest first</h2>
% if r['basis'] == 'share':
<p class="hint" id="share-basis">One side was profiled by cProfile (exact call counts) and the other by sampling (time shares, no call counts), so each function is compared by its share of its own profile's time, in percentage points; calls are not compared.</p>
% endif
<% per_request = counts[0] > 1 or counts[1] > 1 %>
<%def name="change_rows(rows)">
% for row in rows:
<tr class="${'failed' if row['selftime_change'] > 0 else ''}">
  % if r['basis'] == 'share':
  <td class="num">${'%+.2f' % (row['selftime_change'] * 100)} pts</td>
  <td class="num">${'%+.2f' % (row['cumtime_change'] * 100)} pts</td>
  <td class="num">—</td>
  % else:
  <td class="num">${signed_ms(row['selftime_change'])} ms${percent_text(row['selftime_before'], row['selftime_after'])}</td>
  <td class="num">${signed_ms(row['cumtime_change'])} ms</td>
  <td class="num">${fmt_calls(row['calls_before'])} → ${fmt_calls(row['calls_after'])}</td>
  % endif
  <td>${'' if row['status'] == 'changed' else row['status']}</td>
  <td class="fn" title="${row['function']}">${function_label(row)}</td>
</tr>
% endfor
</%def>
<div class="table-scroll" tabindex="0" role="region" aria-label="Changes, largest first (scrolls sideways)">
<table class="stats" id="changes">
<thead><tr><th scope="col" class="num">own time change${' per request' if per_request else ''}</th><th scope="col" class="num">cumulative change${' per request' if per_request else ''}</th><th scope="col" class="num">${'calls per request' if per_request else 'calls'}</th><th scope="col"><span class="visually-hidden">status</span></th><th scope="col">function</th></tr></thead>
<tbody>${change_rows(r['functions'][:15])}</tbody>
</table>
</div>
% if len(r['functions']) > 15:
<details>
<summary>The other ${len(r['functions']) - 15} functions${' (the first %d shown)' % (2000 - 15) if len(r['functions']) > 2000 else ''}</summary>
<div class="table-scroll" tabindex="0" role="region" aria-label="The other functions (scrolls sideways)"><table class="stats"><tbody>${change_rows(r['functions'][15:2000])}</tbody></table></div>
</details>
% endif
<p class="hint">Own time counts the built-ins a function calls (its clock reads, its sleeps) as its own. Functions that vanished are listed here but not drawn below, which shows the later profile.</p>
</section>

<section id="flame-section">
  <h2>Differential flame graph</h2>
  <p class="hint">The later profile's call paths${', per request' if per_request else ''}. Each bar is coloured and labelled by how much its function's own time changed, as a share of what it was; a change under 0.2% of the request's time is grey. Click a bar to zoom.</p>
  <p class="change-key" aria-label="Colour key">
    <span><span class="chip slower-more"></span>50% or more slower</span>
    <span><span class="chip slower"></span>20% slower</span>
    <span><span class="chip same"></span>about the same</span>
    <span><span class="chip faster"></span>20% faster</span>
    <span><span class="chip faster-more"></span>50% or more faster</span>
  </p>
  <div class="flame-tools">
    <nav id="flame-crumbs" class="crumbs" aria-label="Flame graph zoom"></nav>
    <input type="search" id="flame-search" placeholder="Highlight a function or file" aria-label="Highlight functions in the flame graph">
    <span id="flame-matched" class="hint" aria-live="polite"></span>
  </div>
  <div id="flame" class="flame"></div>
</section>

<section id="graph-section">
  <h2>Call graph, coloured by change</h2>
  <p class="hint">The later profile's functions above 1% of its time, coloured as the flame graph. <button type="button" id="graph-download" disabled>Save as SVG</button></p>
  <p class="hint" id="graph-overflow" hidden>At a size its labels can be read, the graph is larger than its box: drag it to see the rest, or zoom out with the wheel or the − button.</p>
  <div id="graph" class="graph"><p class="hint">Drawing…</p></div>
</section>

<script type="application/json" id="profile-data">${figures | n}</script>
