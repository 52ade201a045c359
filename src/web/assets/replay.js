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

  // Positions come as data attributes (the page's CSP allows no inline styles). Each marker
  // stands at its time, its tick there, its label kept inside the waveform's box (near an
  // edge the label runs inward), in the first of at most MAX_ROWS rows where it overlaps
  // nothing. A marker that fits in no row joins the marker placed just before it in a
  // cluster, which shows how many it holds and lists them when clicked. Laid out again
  // when the width changes.
  var shade = document.getElementById("first30-shade");
  if (shade) shade.style.width = shade.dataset.share + "%";
  var MAX_ROWS = 3;
  var GAP = 2;
  var wave = document.getElementById("wave");
  var markerBox = document.getElementById("markers");
  var allMarkers = Array.prototype.slice.call(markerBox.querySelectorAll(".marker"));
  var clusterWord = markerBox.dataset.cluster || "{n}";

  function rowTop(row) {
    return row === 0 ? "-1.5em" : (row - 1) * 1.5 + 0.2 + "em";
  }

  // Puts the listed markers back into their (hidden) cluster.
  function closeLists() {
    Array.prototype.forEach.call(markerBox.querySelectorAll(".marker-list"), function (list) {
      var cluster = document.getElementById(list.dataset.for);
      Array.prototype.slice.call(list.children).forEach(function (member) {
        member.classList.remove("in-list");
        member.classList.add("in-cluster");
        markerBox.appendChild(member);
      });
      list.remove();
      if (cluster) cluster.setAttribute("aria-expanded", "false");
    });
  }

  // Lists a cluster's markers under it, inside the box; each still seeks when clicked.
  function openList(cluster, members) {
    closeLists();
    var width = wave.clientWidth || 1;
    var list = document.createElement("div");
    list.className = "marker-list";
    list.dataset.for = cluster.id;
    members.forEach(function (member) {
      member.classList.remove("in-cluster");
      member.classList.add("in-list");
      list.appendChild(member);
    });
    markerBox.appendChild(list);
    var left = Math.min(parseFloat(cluster.style.left) || 0, width - list.offsetWidth);
    list.style.left = Math.max(0, left) + "px";
    list.style.top = "calc(" + cluster.style.top + " + 1.6em)";
    cluster.setAttribute("aria-expanded", "true");
  }

  function place(element, x, left, row) {
    element.style.left = left + "px";
    element.style.top = rowTop(row);
    element.style.setProperty("--tick", x - left + "px");
    element.dataset.lane = String(row);
  }

  function layOut() {
    closeLists();
    Array.prototype.forEach.call(markerBox.querySelectorAll(".marker-cluster"), function (c) {
      c.remove();
    });
    allMarkers.forEach(function (marker) {
      marker.classList.remove("in-cluster");
      delete marker.dataset.cluster;
    });
    var width = wave.clientWidth || 1;
    markerBox.dataset.width = String(width);
    var rows = [];
    var last = null;
    var clusters = 0;
    allMarkers.forEach(function (marker) {
      var x = (parseFloat(marker.dataset.left) / 100) * width;
      var w = marker.offsetWidth;
      var left = Math.max(0, Math.min(x - w / 2, width - w));
      var row = 0;
      while (row < MAX_ROWS && rows[row] !== undefined && rows[row] + GAP > left) row++;
      if (row < MAX_ROWS || !last) {
        row = Math.min(row, MAX_ROWS - 1);
        place(marker, x, left, row);
        rows[row] = left + w;
        last = { marker: marker, x: x, left: left, row: row, cluster: null, members: [marker] };
        return;
      }
      // No row has room: into the cluster of the marker placed last (it overlaps this one).
      if (!last.cluster) {
        var cluster = document.createElement("button");
        cluster.type = "button";
        cluster.className = last.marker.className.replace(/\bmarker\b/, "marker-cluster");
        cluster.id = "marker-cluster-" + clusters++;
        cluster.setAttribute("aria-expanded", "false");
        markerBox.appendChild(cluster);
        last.cluster = cluster;
        last.marker.classList.add("in-cluster");
        last.marker.dataset.cluster = cluster.id;
        var members = last.members;
        cluster.addEventListener("click", function () {
          if (cluster.getAttribute("aria-expanded") === "true") closeLists();
          else openList(cluster, members);
        });
      }
      last.members.push(marker);
      marker.classList.add("in-cluster");
      marker.dataset.cluster = last.cluster.id;
      last.cluster.textContent = clusterWord.replace("{n}", String(last.members.length));
      last.cluster.title = last.members
        .map(function (m) {
          return m.textContent;
        })
        .join(" · ");
      last.cluster.dataset.count = String(last.members.length);
      // The cluster starts where its first marker's label did and grows to the right, into
      // room nothing in its row has taken yet, kept inside the box.
      var clusterWidth = last.cluster.offsetWidth;
      var clusterLeft = Math.max(0, Math.min(last.left, width - clusterWidth));
      place(last.cluster, last.x, clusterLeft, last.row);
      rows[last.row] = Math.max(rows[last.row], clusterLeft + clusterWidth);
    });
  }
  layOut();
  var resizing = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizing);
    resizing = setTimeout(layOut, 100);
  });

  allMarkers.forEach(function (marker) {
    marker.addEventListener("click", function () {
      firstThirtyEnd = null;
      seek(parseFloat(marker.dataset.t));
      if (marker.classList.contains("in-list")) closeLists();
    });
  });

  // A click on the waveform itself seeks to that point.
  canvas.addEventListener("click", function (event) {
    var box = canvas.getBoundingClientRect();
    if (box.width > 0 && duration > 0) {
      seek(((event.clientX - box.left) / box.width) * duration);
    }
  });

  // The channels' names in the page's language.
  var channelNames = {
    caller_said: replay.dataset.callerSaid,
    caller_heard: replay.dataset.callerHeard,
  };

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
      context.fillText(channelNames[channel.name] || channel.name, 4 * ratio, band * index + 12 * ratio);
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
