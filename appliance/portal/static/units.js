/* The web app's units and number formatting: the passenger's unit per shown value, the presets, the choice kept
   in localStorage. ES5; see core.js. */
(function () {
  "use strict";
  var C = window.Cabin, state = C.state, $ = C.$, t = C.t, store = C.store, forget = C.forget, load = C.load;

  /* ---- units ------------------------------------------------------------------------------------------- */
  /* Each shown value's units, per value: [factor, offset, symbol] from the unit the API gives (ft, kt, degC, km).
     The passenger picks one per value; the presets set all four at once. */
  var UNITS = {
    altitude: { ft: [1, 0, "ft"], m: [0.3048, 0, "m"] },
    ground_speed: { kt: [1, 0, "kt"], kmh: [1.852, 0, "km/h"], mph: [1.150779, 0, "mph"] },
    outside_temperature: { C: [1, 0, "\u00B0C"], F: [1.8, 32, "\u00B0F"] },
    distance_to_go: { km: [1, 0, "km"], mi: [0.621371, 0, "mi"], nm: [0.539957, 0, "NM"] }
  };
  var PRESETS = {
    metric: { altitude: "m", ground_speed: "kmh", outside_temperature: "C", distance_to_go: "km" },
    imperial: { altitude: "ft", ground_speed: "kt", outside_temperature: "F", distance_to_go: "mi" }
  };
  var QUANTITIES = ["altitude", "ground_speed", "outside_temperature", "distance_to_go"];
  function own(obj, key) { return key !== null && Object.prototype.hasOwnProperty.call(obj, key); }
  function presetOf(units) {
    var names = Object.keys(PRESETS).filter(function (name) {
      return QUANTITIES.every(function (q) { return PRESETS[name][q] === units[q]; });
    });
    return names.length ? names[0] : "custom";
  }
  function setUnit(name, unit) {
    if (!own(UNITS[name], unit)) { return; }
    state.units[name] = unit;
    store("unit_" + name, unit);
  }
  function showUnits() {
    $("units-select").value = presetOf(state.units);
    QUANTITIES.forEach(function (q) { $("unit-" + q).value = state.units[q]; });
    C.renderFlight();
  }
  function loadUnits() {
    var legacy = load("units");  /* before per-value units: one "metric" or "imperial" for all */
    state.units = {};
    QUANTITIES.forEach(function (q) { state.units[q] = PRESETS.metric[q]; });
    if (own(PRESETS, legacy)) {
      QUANTITIES.forEach(function (q) { setUnit(q, PRESETS[legacy][q]); });
      forget("units");
    }
    QUANTITIES.forEach(function (q) { var saved = load("unit_" + q); if (own(UNITS[q], saved)) { state.units[q] = saved; } });
  }
  function setupUnits() {
    loadUnits();
    $("units-select").onchange = function () {
      var preset = own(PRESETS, this.value) ? PRESETS[this.value] : null;
      if (!preset) { $("units-more").open = true; return; }  /* "Custom": show the choice per value */
      QUANTITIES.forEach(function (q) { setUnit(q, preset[q]); });
      showUnits();
    };
    QUANTITIES.forEach(function (q) {
      $("unit-" + q).onchange = function () { setUnit(q, this.value); showUnits(); };
    });
    showUnits();
  }

  /* ---- formatting -------------------------------------------------------------------------------------- */
  function number(v) {  /* a whole number, grouped the passenger's way */
    try { return v.toLocaleString(state.lang, { maximumFractionDigits: 0 }); } catch (e) { return v.toFixed(0); }
  }
  function formatValue(name, v) {
    if (name === "time_to_go") {
      var m = Math.round(v / 60);
      return Math.floor(m / 60) + " " + t("hours_short") + " " + (m % 60 < 10 ? "0" : "") + (m % 60) + " " + t("minutes_short");
    }
    var c = UNITS[name][state.units[name]], x = Math.round(v * c[0] + c[1]);
    return number(x || 0) + " " + c[2];  /* x || 0: never "-0" */
  }
  function clock(iso) { return iso ? iso.slice(11, 16) : null; }

  C.setupUnits = setupUnits;
  C.formatValue = formatValue;
  C.clock = clock;
})();
