<%inherit file="base.mako"/>
<%def name="title()">Sessions</%def>
<div class="titlebar">
  <h1>Profiled requests <small>${stored} stored</small></h1>
  % if not read_only:
  <form method="post" action="${base}/state" class="switch">
    <input type="hidden" name="${csrf_field}" value="${csrf}">
  <input type="hidden" name="return_to" value="${urlencode(params)}">
    <span class="state ${'on' if enabled else 'off'}">Profiling is ${"on" if enabled else "off"}</span>
    <button type="submit" name="enabled" value="${'off' if enabled else 'on'}">Turn ${"off" if enabled else "on"}</button>
  </form>
  % endif
</div>
% if deleted is not None:
<p class="note" role="status">${deleted} session${'' if deleted == 1 else 's'} deleted.</p>
% endif
% if not read_only:
<div class="counters">
% for line in counters:
<p>${line.label}: ${f"{line.profiled:,}"} profiled, ${f"{line.stored:,}"} stored\
% if line.skipped:
, <span class="skipped">${f"{line.skipped:,}"} skipped — ${'; '.join(f'{number:,} {reason}: {why}' if why else f'{number:,} {reason}' for reason, number, why in line.reasons)}</span>\
% endif
% if line.lost:
, <span class="lost">${f"{line.lost:,}"} lost — ${'; '.join(f'{number:,} {why}' for number, why in line.lost_reasons)} (the last: ${health.last_lost or 'see the log'})</span>\
% endif
.</p>
% endfor
</div>
% endif
% if not read_only:
<section class="captures" aria-labelledby="captures-heading">
  <h2 id="captures-heading">Capture windows</h2>
  % for w in captures:
  <% running = w.is_open(now) %>
  <div class="capture ${'running' if running else 'ended'}">
    <span class="state ${'on' if running else 'done'}">${'Catching' if running else 'Ended'}</span>
    <span class="what">${w.describe()}</span>
    <span class="caught">caught ${w.caught}${'' if w.requests is None else ' of %d' % w.requests}</span>
    % if w.caught:
    <a href="${base}/?capture=${w.id}">show what it caught</a>
    % endif
    % if running:
    <form method="post" action="${base}/captures/${w.id}/stop" class="inline">
      <input type="hidden" name="${csrf_field}" value="${csrf}">
      <input type="hidden" name="return_to" value="${urlencode(params)}">
      <button type="submit">Stop</button>
    </form>
    % endif
  </div>
  % endfor
  <details class="capture-start">
  <summary>Start a capture window</summary>
  <form method="post" action="${base}/captures" class="capture-form" id="capture-form">
    <input type="hidden" name="${csrf_field}" value="${csrf}">
    <input type="hidden" name="return_to" value="${urlencode(params)}">
    <label>Profile the next <input type="text" name="requests" value="10" size="4" inputmode="numeric"> requests</label>
    <label>whose path matches <input type="text" name="pattern" placeholder="e.g. ^/api/orders" size="18"></label>
    <label>method <select name="method">
      <option value="">any</option>
      % for m in ("GET", "POST", "PUT", "PATCH", "DELETE"):
      <option>${m}</option>
      % endfor
    </select></label>
    <label>for at most <input type="text" name="minutes" size="4" inputmode="decimal" placeholder="no limit"> minutes</label>
    <label>only those slower than <input type="text" name="min_ms" size="6" inputmode="decimal" placeholder="any"> ms</label>
    <button type="submit">Start capturing</button>
  </form>
  <p class="hint">A window profiles the requests it matches even with profiling off, in every process that shares this store, then linesman is back as it was.</p>
  </details>
</section>
% endif

<form method="get" action="${base}/" class="filters" id="filters">
  <label>Path contains <input type="search" name="path" value="${query.path_contains}" placeholder="e.g. /api/"></label>
  <label>Method <select name="method">
    <option value="">any</option>
    % for m in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"):
    <option ${'selected' if query.method == m else ''}>${m}</option>
    % endfor
  </select></label>
  <label>Status <input type="text" name="status" value="${'' if query.status is None else query.status}" size="4" inputmode="numeric" pattern="[1-5][0-9]{2}" placeholder="any"></label>
  <label>Slower than <input type="text" name="min_ms" value="${params.get('min_ms', '')}" size="6" inputmode="decimal" placeholder="e.g. 100"> ms</label>
  % if query.capture:
  <input type="hidden" name="capture" value="${query.capture}">
  <span class="filter-note">caught by one capture window</span>
  % endif
  % if query.sort != "timestamp":
  <input type="hidden" name="sort" value="${query.sort}">
  % endif
  % if not query.descending:
  <input type="hidden" name="order" value="asc">
  % endif
  <button type="submit">Filter</button>
  % if query.filters:
  <a href="${base}/">Clear</a>
  % endif
</form>

% if damaged:
<% one = damaged == 1 %>
<p class="note damaged-note" role="status">${damaged} damaged row${'' if one else 's'} on this page: what the store holds for ${'it' if one else 'them'} is not what linesman writes (another tool, a hand edit, or damage to the store), so ${'it is' if one else 'they are'} left out of merged profiles and comparisons, and ${'its' if one else 'their'} damaged values out of the endpoints' figures. Delete ${'it' if one else 'them'} once you have seen why.</p>
% endif
% if not sessions:
<p class="empty">${"No session matches these filters." if query.filters else "No profiled requests yet. Use the app, then reload this page."}</p>
% else:
<form method="post" action="${base}/delete" id="selection">
<input type="hidden" name="${csrf_field}" value="${csrf}">
    <input type="hidden" name="return_to" value="${urlencode(params)}">
<table class="sessions">
<caption class="visually-hidden">Profiled requests</caption>
<thead><tr>
  <th scope="col" class="pick"><input type="checkbox" id="select-all" aria-label="Select all on this page"></th>
  <th scope="col" class="when"><a href="${links.sort('timestamp')}">When${links.arrow('timestamp')}</a></th>
  <th scope="col" class="method">Method</th>
  <th scope="col" class="path"><a href="${links.sort('path')}">Path${links.arrow('path')}</a></th>
  <th scope="col" class="status"><a href="${links.sort('status')}">Status${links.arrow('status')}</a></th>
  <th scope="col" class="num duration"><a href="${links.sort('duration')}">Duration${links.arrow('duration')}</a></th>
  <th scope="col" class="num cpu">CPU</th>
  <th scope="col" class="act"><span class="visually-hidden">Actions</span></th>
</tr></thead>
<tbody>
% for s in sessions:
% if s.get('damaged'):
<% addressable = is_session_id(s['uuid']) %>
<tr class="damaged">
  <td class="pick">
  % if addressable:
  <input type="checkbox" name="session_uuids[]" value="${s['uuid']}" aria-label="Select the damaged row ${s['uuid']}">
  % endif
  </td>
  <td class="when">—</td>
  <td class="method">${s['method']}</td>
  <td class="path">\
% if addressable:
<a href="${base}/profiles/${s['uuid']}">${breakable_path(s['path'] + (('?' + s['query']) if s['query'] else '')) | n}</a>\
% else:
${breakable_path(s['path'] + (('?' + s['query']) if s['query'] else '')) | n}\
% endif
 <span class="why">damaged: ${s['damaged']}</span></td>
  <td class="status">—</td>
  <td class="num duration">—</td>
  <td class="num cpu">—</td>
% else:
<%
  status = s['status']
  if s['failed']:
      trouble = 'server' if status is not None and status >= 500 else 'raised'
  else:
      trouble = 'client' if status is not None and 400 <= status < 500 else ''
  why = {'server': 'server error', 'client': 'client error', 'raised': 'raised'}.get(trouble, '')
%>
## An error row is set apart by a mark and words, not by colour only.
<tr class="${'error-row ' + trouble if trouble else ''}${' failed' if s['failed'] else ''}">
  <td class="pick"><input type="checkbox" name="session_uuids[]" value="${s['uuid']}" aria-label="Select ${s['method']} ${s['path']}"></td>
  <td class="when"><time datetime="${fmt_iso(s['timestamp'])}">${fmt_time(s['timestamp'])}</time> <span class="ago">${fmt_ago(s['timestamp'], now)}</span></td>
  <td class="method">${s['method']}</td>
  <td class="path"><a href="${base}/profiles/${s['uuid']}">${breakable_path(s['path'] + (('?' + s['query']) if s['query'] else '')) | n}</a></td>
  % if trouble:
  <td class="status"><span class="trouble ${trouble}"><span class="mark" aria-hidden="true">${'!' if trouble == 'client' else '✕'}</span> ${'' if status is None else status} <span class="why">${why}</span></span></td>
  % else:
  <td class="status">${status if status is not None else '—'}</td>
  % endif
  <td class="num duration">${fmt_ms(s['duration'])}</td>
  <td class="num cpu">${fmt_ms(s['cpu_time'])}</td>
% endif
  <td class="act">
  % if not read_only and is_session_id(s['uuid']):
  <button type="submit" class="link quiet" formaction="${base}/delete/${s['uuid']}" data-confirm="Delete this session?" aria-label="Delete ${s['method']} ${s['path']}">Delete</button>
  % endif
  </td>
</tr>
% endfor
</tbody>
</table>
<div class="actions">
  % if not read_only:
  <button type="submit" class="danger" data-confirm="Delete the selected sessions?" data-needs-selection>Delete selected</button>
  % endif
  <button type="button" data-compare="${base}/compare" data-needs-two>Compare the two selected</button>
</div>
</form>
% if page > 1 or more:
<nav class="pager">
  % if page > 1:
  <a href="${links.page(page=str(page - 1) if page > 2 else '')}" rel="prev">← Newer</a>
  % endif
  <span>Page ${page} of ${pages}</span>
  % if more:
  <a href="${links.page(page=str(page + 1))}" rel="next">Older →</a>
  % endif
</nav>
% endif
% endif

% if not read_only:
<div class="bulk">
% if query.filters:
% if sessions:
<form method="post" action="${base}/delete/matching">
  <input type="hidden" name="${csrf_field}" value="${csrf}">
  <input type="hidden" name="return_to" value="${urlencode(params)}">
  % for name, value in params.items():
  <input type="hidden" name="${name}" value="${value}">
  % endfor
  <button type="submit" class="danger" data-confirm="Delete all ${total} sessions that match this filter?">Delete all ${total} matching</button>
</form>
% endif
% elif stored != "0":
<form method="post" action="${base}/delete/all">
  <input type="hidden" name="${csrf_field}" value="${csrf}">
  <input type="hidden" name="return_to" value="${urlencode(params)}">
  <button type="submit" class="danger" data-confirm="Delete every stored session (${stored})?">Delete all ${stored}</button>
</form>
% endif
</div>
% endif
