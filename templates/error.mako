<%inherit file="base.mako"/>
<%def name="title()">${title}</%def>
<h1>${title}</h1>
<p>${detail}</p>
<p><a href="${base}/">Back to the sessions</a></p>
