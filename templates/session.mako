<%inherit file="base.mako"/>
<%def name="title()">${session.method} ${session.path}</%def>
<h1>${session.method} ${session.path}${('?' + session.query) if session.query else ''}</h1>
<dl class="summary">
  <dt>Status</dt><dd>${session.status if session.status is not None else '—'}${(' · ' + session.error) if session.error else ''}</dd>
  <dt>Wall time</dt><dd>${fmt_ms(session.duration)}</dd>
  <dt>CPU time</dt><dd>${fmt_ms(session.cpu_time)}</dd>
  <dt>When</dt><dd>${fmt_time(session.timestamp)}</dd>
  <dt>Functions</dt><dd>${len(session.functions)}</dd>
  <dt>Alongside</dt><dd>${'other requests ran at the same time' if session.concurrent else 'no other request'}</dd>
</dl>
<table class="stats">
<thead><tr><th class="num">ncalls</th><th class="num">tottime</th><th class="num">cumtime</th><th>function</th></tr></thead>
<tbody>
% for f in functions:
<tr>
  <td class="num">${f.callcount if f.callcount == f.reccallcount else '%d/%d' % (f.callcount, f.reccallcount)}</td>
  <td class="num">${'%.6f' % f.inlinetime}</td>
  <td class="num">${'%.6f' % f.totaltime}</td>
  <td class="fn">${f.file if f.file != '~' else ''}${(':%d' % f.line) if f.file != '~' else ''}(${f.name})</td>
</tr>
% endfor
</tbody>
</table>
