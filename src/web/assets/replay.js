// The call page's player (hotline QA replay): draws the waveform from the server's peaks,
// moves the playhead, seeks on a marker click, plays the first 30 s, and gives each channel
// its own volume (Web Audio: the stereo split into two gains) and the player its speed.
// No build step: this file is served as it is.
(function () {
  "use strict";
  var replay = document.getElementById("replay");
  if (!replay) return;
  var audio = document.getElementById("player");
  var canvas = document.getElementById("waveform");
  var playhead = document.getElementById("playhead");
  var duration = parseFloat(replay.dataset.duration) || 0;
  var firstThirtyEnd = null;

  function seek(seconds) {
    audio.currentTime = Math.max(0, seconds);
  }

  // Positions come as data attributes (the page's CSP allows no inline styles): each marker
  // at its time, in the first lane where it overlaps no marker already placed.
  var shade = document.getElementById("first30-shade");
  if (shade) shade.style.width = shade.dataset.share + "%";
  var lanes = [];
  var waveWidth = document.getElementById("wave").clientWidth || 1;
  Array.prototype.forEach.call(document.querySelectorAll("#markers .marker"), function (marker) {
    marker.style.left = marker.dataset.left + "%";
    var x = (parseFloat(marker.dataset.left) / 100) * waveWidth;
    var half = marker.offsetWidth / 2 + 2;
    var lane = 0;
    while (lanes[lane] !== undefined && lanes[lane] > x - half) lane++;
    lanes[lane] = x + half;
    marker.style.top = lane === 0 ? "-1.5em" : (lane - 1) * 1.5 + 0.2 + "em";
    marker.dataset.lane = String(lane);
  });

  Array.prototype.forEach.call(document.querySelectorAll("#markers .marker"), function (marker) {
    marker.addEventListener("click", function () {
      firstThirtyEnd = null;
      seek(parseFloat(marker.dataset.t));
    });
  });

  // A click on the waveform itself seeks to that point.
  canvas.addEventListener("click", function (event) {
    var box = canvas.getBoundingClientRect();
    if (box.width > 0 && duration > 0) {
      seek(((event.clientX - box.left) / box.width) * duration);
    }
  });

  function draw(peaks) {
    var ratio = window.devicePixelRatio || 1;
    var width = Math.max(1, Math.round(canvas.clientWidth * ratio));
    var height = Math.max(1, Math.round(canvas.clientHeight * ratio));
    canvas.width = width;
    canvas.height = height;
    var context = canvas.getContext("2d");
    context.clearRect(0, 0, width, height);
    var colours = ["#1f6feb", "#2da44e"];
    peaks.channels.forEach(function (channel, index) {
      var band = height / peaks.channels.length;
      var middle = band * index + band / 2;
      var count = channel.max.length;
      context.fillStyle = colours[index % colours.length];
      for (var x = 0; x < width; x++) {
        var bucket = Math.floor((x / width) * count);
        if (bucket >= count) break;
        var top = middle - (channel.max[bucket] / 32768) * (band / 2);
        var bottom = middle - (channel.min[bucket] / 32768) * (band / 2);
        context.fillRect(x, top, 1, Math.max(1, bottom - top));
      }
      context.fillStyle = "#57606a";
      context.font = 11 * ratio + "px sans-serif";
      context.fillText(channel.name, 4 * ratio, band * index + 12 * ratio);
    });
    canvas.dataset.buckets = String(peaks.channels[0] ? peaks.channels[0].max.length : 0);
    canvas.dataset.drawn = "yes";
  }

  var width = Math.min(4000, Math.max(200, Math.round(canvas.clientWidth || 1200)));
  fetch(replay.dataset.peaks + "?buckets=" + width, { credentials: "same-origin" })
    .then(function (response) {
      if (!response.ok) throw new Error("peaks: HTTP " + response.status);
      return response.json();
    })
    .then(draw)
    .catch(function (error) {
      canvas.dataset.error = String(error);
    });

  audio.addEventListener("timeupdate", function () {
    if (duration > 0) {
      playhead.style.left = Math.min(100, (audio.currentTime / duration) * 100) + "%";
    }
    if (firstThirtyEnd !== null && audio.currentTime >= firstThirtyEnd) {
      audio.pause();
      firstThirtyEnd = null;
    }
  });

  document.getElementById("first30").addEventListener("click", function () {
    firstThirtyEnd = 30;
    seek(0);
    startAudioGraph();
    audio.play();
  });

  // Per-channel volume: the element's stereo split into left and right gains, merged back.
  var gains = null;
  function startAudioGraph() {
    if (gains || !window.AudioContext) return;
    try {
      var context = new AudioContext();
      var source = context.createMediaElementSource(audio);
      var splitter = context.createChannelSplitter(2);
      var merger = context.createChannelMerger(2);
      var left = context.createGain();
      var right = context.createGain();
      source.connect(splitter);
      splitter.connect(left, 0);
      splitter.connect(right, 1);
      left.connect(merger, 0, 0);
      right.connect(merger, 0, 1);
      merger.connect(context.destination);
      gains = { left: left, right: right, context: context };
      setVolumes();
    } catch (error) {
      replay.dataset.audioGraphError = String(error);
    }
  }
  function setVolumes() {
    if (!gains) return;
    gains.left.gain.value = parseFloat(document.getElementById("vol-left").value);
    gains.right.gain.value = parseFloat(document.getElementById("vol-right").value);
  }
  audio.addEventListener("play", function () {
    startAudioGraph();
    if (gains && gains.context.state === "suspended") gains.context.resume();
  });
  document.getElementById("vol-left").addEventListener("input", function () {
    startAudioGraph();
    setVolumes();
  });
  document.getElementById("vol-right").addEventListener("input", function () {
    startAudioGraph();
    setVolumes();
  });
  document.getElementById("speed").addEventListener("change", function (event) {
    audio.playbackRate = parseFloat(event.target.value) || 1;
  });
})();
