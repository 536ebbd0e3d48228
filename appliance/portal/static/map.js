/* The web app's map: the great-circle route, the land, the flown track and the aircraft, drawn into the SVG of
   index.html. ES5; see core.js. */
(function () {
  "use strict";
  var C = window.Cabin, state = C.state, $ = C.$;

  /* ---- map --------------------------------------------------------------------------------------------- */
  var W = 800, H = 450;
  function rad(x) { return x * Math.PI / 180; }
  function deg(x) { return x * 180 / Math.PI; }
  function greatCircle(a, b, n) {
    var la1 = rad(a[0]), lo1 = rad(a[1]), la2 = rad(b[0]), lo2 = rad(b[1]);
    var dd = 2 * Math.asin(Math.sqrt(Math.pow(Math.sin((la2 - la1) / 2), 2) +
      Math.cos(la1) * Math.cos(la2) * Math.pow(Math.sin((lo2 - lo1) / 2), 2)));
    var out = [], i;
    if (dd === 0) { return [a, b]; }
    for (i = 0; i <= n; i++) {
      var f = i / n, A = Math.sin((1 - f) * dd) / Math.sin(dd), B = Math.sin(f * dd) / Math.sin(dd);
      var x = A * Math.cos(la1) * Math.cos(lo1) + B * Math.cos(la2) * Math.cos(lo2);
      var y = A * Math.cos(la1) * Math.sin(lo1) + B * Math.cos(la2) * Math.sin(lo2);
      var z = A * Math.sin(la1) + B * Math.sin(la2);
      out.push([deg(Math.atan2(z, Math.sqrt(x * x + y * y))), deg(Math.atan2(y, x))]);
    }
    return out;
  }
  /* a longitude difference in [-180, 180): a route over the antimeridian (Tokyo-Honolulu) stays in one piece */
  function wrap(d) { return ((d % 360) + 540) % 360 - 180; }
  function makeView(points) {
    var minLat = 90, maxLat = -90, minLon = Infinity, maxLon = -Infinity, ref = points[0][1];
    points.forEach(function (pt) {
      var lon = ref + wrap(pt[1] - ref);
      minLat = Math.min(minLat, pt[0]); maxLat = Math.max(maxLat, pt[0]);
      minLon = Math.min(minLon, lon); maxLon = Math.max(maxLon, lon);
    });
    var k = Math.cos(rad((minLat + maxLat) / 2));
    var spanX = Math.max((maxLon - minLon) * k, 4), spanY = Math.max(maxLat - minLat, 2.25);
    var scale = Math.min(W / (spanX * 2.4), H / (spanY * 2.6));
    var cx = (minLon + maxLon) / 2, cy = (minLat + maxLat) / 2;
    return { key: [minLat, maxLat, minLon, maxLon].join(","), dx: function (lon) { return wrap(lon - cx); },
      p: function (lat, lon) { return [W / 2 + wrap(lon - cx) * k * scale, H / 2 - (lat - cy) * scale]; } };
  }
  function pathOf(points, view) {
    var s = "", i, xy;
    for (i = 0; i < points.length; i++) {
      xy = view.p(points[i][0], points[i][1]);
      s += (i ? "L" : "M") + xy[0].toFixed(1) + "," + xy[1].toFixed(1);
    }
    return s;
  }
  function drawLand(view) {
    if (!state.world || !window.topojson) { return; }
    if (!state.land) { state.land = window.topojson.feature(state.world, state.world.objects.countries); }
    var fc = state.land, s = "", parts = [];
    fc.features.forEach(function (feature) {
      var g = feature.geometry;
      if (!g) { return; }
      var polys = g.type === "Polygon" ? [g.coordinates] : g.coordinates;
      polys.forEach(function (poly) {
        poly.forEach(function (ring) {
          var d = "", i, xy, dx, prev = null;
          for (i = 0; i < ring.length; i++) {
            dx = view.dx(ring[i][0]);  /* a ring cut by the map's back meridian: lift the pen, no line across */
            if (prev !== null && Math.abs(dx - prev) > 180) { d += "M"; } else { d += i ? "L" : "M"; }
            prev = dx;
            xy = view.p(ring[i][1], ring[i][0]);
            d += xy[0].toFixed(1) + "," + xy[1].toFixed(1);
          }
          s += d + "Z";
        });
      });
    });
    parts.push('<path d="' + s + '"/>');
    $("land").innerHTML = parts.join("");
  }
  function drawMap() {
    var f = state.flight;
    if (!f || !f.flight) { return; }
    var o = f.flight.origin, d = f.flight.destination, pts = [];
    if (o && o.lat !== null) { pts.push([o.lat, o.lon]); }
    if (d && d.lat !== null) { pts.push([d.lat, d.lon]); }
    if (f.position && pts.length < 2) { pts.push([f.position.lat, f.position.lon]); }  /* the route frames the map */
    if (!pts.length) { return; }
    var view = makeView(pts);
    if (!state.view || state.view.key !== view.key) {
      state.view = view;
      drawLand(view);
      var labels = "";
      [o, d].forEach(function (a) {
        if (!a || a.lat === null) { return; }
        var xy = view.p(a.lat, a.lon);
        labels += '<circle cx="' + xy[0].toFixed(1) + '" cy="' + xy[1].toFixed(1) + '" r="5"/>' +
          '<text x="' + (xy[0] + 8).toFixed(1) + '" y="' + (xy[1] - 8).toFixed(1) + '">' + (a.iata || a.icao) + "</text>";
      });
      $("airports").innerHTML = labels;
    }
    view = state.view;
    $("route").setAttribute("d", o && d && o.lat !== null && d.lat !== null ? pathOf(greatCircle([o.lat, o.lon], [d.lat, d.lon], 96), view) : "");
    $("flown").setAttribute("d", state.track.length > 1 ? pathOf(state.track, view) : "");
    var plane = $("plane"), heading = f.parameters.heading.value;
    if (f.position && !state.shownOutdated) {  /* an outdated position is not where the aircraft is */
      var xy = view.p(f.position.lat, f.position.lon);
      plane.setAttribute("transform", "translate(" + xy[0].toFixed(1) + "," + xy[1].toFixed(1) + ") rotate(" + (heading === null ? 0 : heading) + ")");
      plane.setAttribute("visibility", "visible");
    } else {
      plane.setAttribute("visibility", "hidden");
    }
  }

  C.drawMap = drawMap;
})();
