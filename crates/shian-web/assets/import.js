// The import form with a progress bar: the file is sent with XMLHttpRequest so that the upload's
// progress can be shown, then the browser goes to the page the server redirected to (the job's
// result or progress). Without this script the form posts as usual.
(function () {
  "use strict";
  function ready(fn) {
    if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", fn); } else { fn(); }
  }
  ready(function () {
    var form = document.getElementById("import-form");
    var status = document.getElementById("upload-status");
    var bar = document.getElementById("upload-progress");
    var text = document.getElementById("upload-text");
    var tpl = document.getElementById("upload-messages");
    if (!form || !status || !bar || !text || !window.FormData || !window.XMLHttpRequest) { return; }
    var msgs = tpl && tpl.content ? tpl.content.firstElementChild.dataset : {};
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var button = form.querySelector("button[type=submit]");
      if (button) { button.disabled = true; }
      status.hidden = false;
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) {
          var pct = Math.floor(e.loaded * 100 / e.total);
          bar.value = pct;
          text.textContent = (msgs.uploading || "") + " " + pct + "%";
          if (e.loaded === e.total) { bar.removeAttribute("value"); text.textContent = msgs.importing || ""; }
        }
      });
      xhr.addEventListener("load", function () {
        var url = xhr.responseURL || "";
        if (xhr.status < 400 && url.indexOf("/import/job/") >= 0) { window.location.href = url; return; }
        // An error page: show its message in place of this page's content.
        var doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
        var main = doc.querySelector("main");
        if (main) { document.querySelector("main").replaceWith(document.importNode(main, true)); }
        else { text.textContent = msgs.failed || ""; if (button) { button.disabled = false; } }
      });
      xhr.addEventListener("error", function () {
        text.textContent = msgs.failed || "";
        if (button) { button.disabled = false; }
      });
      xhr.send(new FormData(form));
    });
  });
})();
