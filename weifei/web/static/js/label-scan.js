// Label scan page (/labels/): scan the QR code of a hazardous-waste label with the camera.
// Uses the browser's BarcodeDetector (no library, no CDN). Where it or the camera is missing,
// the camera button stays hidden and the code is typed. The QR payload is the verification URL;
// the server accepts a URL or a bare code in the same field.
(function () {
  "use strict";
  var form = document.getElementById("label-scan-form");
  var button = document.getElementById("label-camera");
  var video = document.getElementById("label-video");
  var input = document.getElementById("label-code");
  var status = document.getElementById("label-camera-status");
  if (!form || !button || !video || !input) return;
  if (!("BarcodeDetector" in window) || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return;

  function start(detector) {
    var stream = null;
    var done = false;
    function stop() {
      done = true;
      if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
      video.hidden = true;
    }
    function tick() {
      if (done) return;
      detector.detect(video).then(function (codes) {
        if (done) return;
        if (codes.length && codes[0].rawValue) {
          stop();
          input.value = codes[0].rawValue;
          status.textContent = button.dataset.found || "";
          form.submit();
          return;
        }
        window.setTimeout(tick, 250);
      }).catch(function () { window.setTimeout(tick, 500); });
    }
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(function (s) {
        stream = s;
        video.srcObject = s;
        video.hidden = false;
        return video.play();
      })
      .then(function () { status.textContent = ""; tick(); })
      .catch(function (err) {
        stop();
        status.textContent = (button.dataset.denied || "") + " " + (err && err.name ? err.name : "");
      });
  }

  var formats = BarcodeDetector.getSupportedFormats ? BarcodeDetector.getSupportedFormats() : Promise.resolve(["qr_code"]);
  formats.then(function (list) {
    if (list.indexOf("qr_code") < 0) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      start(new BarcodeDetector({ formats: ["qr_code"] }));
    });
  }).catch(function () { /* no camera scanning: type the code */ });
})();
