<%inherit file="base.mako"/>
<%def name="title()">${heading}</%def>
<div class="error-page">
<h1>${heading}</h1>
<p>${detail}</p>
<p><a href="${base}/">Back to the sessions</a></p>
</div>
