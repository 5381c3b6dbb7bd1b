<%inherit file="base.mako"/>
<%def name="title()">Sessions</%def>
<h1>Profiled requests <small>${total} stored · profiling ${"on" if enabled else "off"}</small></h1>
<p class="counters">Since this process started: ${counts.get('profiled', 0)} profiled, ${counts.get('stored', 0)} stored.
% for reason, number, why in skipped:
<span class="skipped" title="${why}">${number} skipped (${reason}: ${why})</span>
% endfor
</p>
% if not sessions:
<p class="empty">No profiled requests yet. Use the app, then reload this page.</p>
% else:
<table class="sessions">
<thead><tr><th>When</th><th>Method</th><th>Path</th><th>Status</th><th class="num">Duration</th><th class="num">CPU</th></tr></thead>
<tbody>
% for s in sessions:
<tr class="${'failed' if s['failed'] else ''}">
  <td>${fmt_time(s['timestamp'])}</td>
  <td>${s['method']}</td>
  <td><a href="${base}/profiles/${s['uuid'] | u}">${s['path']}${('?' + s['query']) if s['query'] else ''}</a></td>
  <td>${s['status'] if s['status'] is not None else '—'}</td>
  <td class="num">${fmt_ms(s['duration'])}</td>
  <td class="num">${fmt_ms(s['cpu_time'])}</td>
</tr>
% endfor
</tbody>
</table>
% endif
