<%inherit file="base.mako"/>
<%def name="title()">Comparison</%def>
<%def name="head()"><script type="module" src="${base}/static/session.js"></script></%def>
<% r = report %>
<%def name="side(profile, ref, count)">
% if not ref.uuid:
<a href="${base}/endpoints/merged?${urlencode(merge_params(ref))}">${ref}</a> (${count} session${'' if count == 1 else 's'} merged, figures per request)\
% else:
<a href="${base}/profiles/${profile.uuid}">${profile.method} ${profile.path}</a>, ${fmt_time(profile.timestamp)}\
% endif
</%def>
<h1>${after.method} ${after.path} <small>compared</small></h1>
<dl class="summary">
  <dt>Before</dt><dd>${side(before, refs[0], counts[0])}: ${fmt_ms(r['duration_before'])}</dd>
  <dt>After</dt><dd>${side(after, refs[1], counts[1])}: ${fmt_ms(r['duration_after'])}</dd>
  <dt>Change</dt><dd class="${'bad' if r['duration_change'] > 0 else ''}">${'%+.1f' % (r['duration_change'] * 1000)} ms</dd>
</dl>
<p class="exports">Export: <a href="${base}/compare.json?${urlencode({'a': str(refs[0]), 'b': str(refs[1])})}">JSON</a></p>
<nav class="sections" aria-label="Views of this comparison">
  <a href="#changes-section">Changes</a> · <a href="#flame-section">Differential flame graph</a> · <a href="#graph-section">Call graph</a>
</nav>

<section id="changes-section">
<h2>Changes, largest first</h2>
% if r['basis'] == 'share':
<p class="hint" id="share-basis">One side was profiled by cProfile (exact call counts) and the other by sampling (time shares, no call counts), so each function is compared by its share of its own profile's time, in percentage points; calls are not compared.</p>
% endif
<%def name="change_rows(rows)">
% for row in rows:
<tr class="${'failed' if row['selftime_change'] > 0 else ''}">
  % if r['basis'] == 'share':
  <td class="num">${'%+.2f' % (row['selftime_change'] * 100)} pts</td>
  <td class="num">${'%+.2f' % (row['cumtime_change'] * 100)} pts</td>
  <td class="num">—</td>
  % else:
  <td class="num">${'%+.3f' % (row['selftime_change'] * 1000)} ms</td>
  <td class="num">${'%+.3f' % (row['cumtime_change'] * 1000)} ms</td>
  <td class="num">${'%g' % row['calls_before']} → ${'%g' % row['calls_after']}</td>
  % endif
  <td>${'' if row['status'] == 'changed' else row['status']}</td>
  <td class="fn" title="${row['function']}">${function_label(row)}</td>
</tr>
% endfor
</%def>
<table class="stats" id="changes">
<thead><tr><th class="num">own time change</th><th class="num">cumulative change</th><th class="num">calls</th><th></th><th>function</th></tr></thead>
<tbody>${change_rows(r['functions'][:15])}</tbody>
</table>
% if len(r['functions']) > 15:
<details>
<summary>The other ${len(r['functions']) - 15} functions${' (the first %d shown)' % (2000 - 15) if len(r['functions']) > 2000 else ''}</summary>
<table class="stats"><tbody>${change_rows(r['functions'][15:2000])}</tbody></table>
</details>
% endif
<p class="hint">Own time counts the built-ins a function calls (its clock reads, its sleeps) as its own. Functions that vanished are listed here but not drawn below, which shows the later profile.</p>
</section>

<section id="flame-section">
  <h2>Differential flame graph</h2>
  <p class="hint">The later profile's call paths; red bars are functions whose own time grew, blue ones shrank, the deeper the colour the larger the change. Click a bar to zoom.</p>
  <div class="flame-tools">
    <nav id="flame-crumbs" class="crumbs" aria-label="Flame graph zoom"></nav>
    <input type="search" id="flame-search" placeholder="Highlight a function or file" aria-label="Highlight functions in the flame graph">
    <span id="flame-matched" class="hint" aria-live="polite"></span>
  </div>
  <div id="flame" class="flame"></div>
</section>

<section id="graph-section">
  <h2>Call graph, coloured by change</h2>
  <p class="hint">The later profile's functions above 1% of its time; red slower, blue faster. <button type="button" id="graph-download" disabled>Save as SVG</button></p>
  <div id="graph" class="graph"><p class="hint">Drawing…</p></div>
</section>

<script type="application/json" id="profile-data">${figures | n}</script>
