<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${self.title()} · linesman</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${base}/static/linesman.css">
<script type="module" src="${base}/static/linesman.js"></script>
${self.head()}
</head>
<body>
<header class="top">
  <a class="brand" href="${base}/">linesman</a>
  <nav><a href="${base}/">Sessions</a> · <a href="${base}/endpoints">Endpoints</a></nav>
  % if health.profiling_off:
  <p class="alert" role="alert">Profiling is off in this process: ${health.profiling_off}.</p>
  % endif
  % if health.store_error:
  <p class="alert" role="alert">Store trouble: ${health.store_error}</p>
  % endif
</header>
<main>
${self.body()}
</main>
</body>
</html>
<%def name="title()">Profiler</%def>
<%def name="head()"></%def>
