// OMTX-Hub 2D depictions: draws every <svg data-smiles> with
// smiles-drawer's SVG drawer (vendor/smiles-drawer, global SmilesDrawer,
// loaded before this file), on load and after every htmx swap, so that
// rows the live channel adds get theirs too. A SMILES that cannot be
// drawn leaves its text in place of the drawing.
//
// smiles-drawer puts a <style> element (the label fonts) into the SVG and
// places labels with style attributes, which the pages'
// Content-Security-Policy (style-src 'self') refuses. While drawing, that
// element is made a <desc> instead (css/app.css gives the labels,
// .depiction .element and .depiction .sub, their fonts) and style
// attributes are set through the element's CSSOM style, which the policy
// allows.
(function () {
  "use strict";

  var drawers = {};
  var SVG = "http://www.w3.org/2000/svg";

  function drawerFor(w, h) {
    var key = w + "x" + h;
    if (!drawers[key]) {
      drawers[key] = new SmilesDrawer.SvgDrawer({ width: w, height: h, compactDrawing: false });
    }
    return drawers[key];
  }

  // withoutStyleElements runs fn with document.createElementNS making an
  // SVG <desc> where an SVG <style> is asked for.
  // and setAttributeNS(null, "style", css) set the CSSOM style instead.
  function withoutStyleElements(fn) {
    var create = document.createElementNS;
    var setNS = Element.prototype.setAttributeNS;
    document.createElementNS = function (ns, name) {
      if (ns === SVG && name === "style") {
        return create.call(document, SVG, "desc");
      }
      return create.apply(document, arguments);
    };
    Element.prototype.setAttributeNS = function (ns, name, value) {
      if (ns === null && name === "style" && this.style) {
        this.style.cssText = String(value);
        return;
      }
      return setNS.apply(this, arguments);
    };
    try {
      return fn();
    } finally {
      document.createElementNS = create;
      Element.prototype.setAttributeNS = setNS;
    }
  }

  function fail(canvas, smiles) {
    canvas.setAttribute("data-depiction", "failed");
    var span = document.createElement("span");
    span.className = "mono depiction-failed";
    span.setAttribute("data-testid", "depiction-failed");
    span.textContent = smiles;
    canvas.setAttribute("hidden", "");
    if (canvas.parentNode) {
      canvas.parentNode.insertBefore(span, canvas.nextSibling);
    }
  }

  function depict(canvas) {
    if (canvas.getAttribute("data-depiction")) {
      return;
    }
    var smiles = canvas.getAttribute("data-smiles");
    if (!smiles) {
      return;
    }
    if (typeof SmilesDrawer === "undefined") {
      fail(canvas, smiles);
      return;
    }
    canvas.setAttribute("data-depiction", "drawing");
    var w = parseInt(canvas.getAttribute("width"), 10) || 200;
    var h = parseInt(canvas.getAttribute("height"), 10) || 150;
    try {
      SmilesDrawer.parse(smiles, function (tree) {
        try {
          withoutStyleElements(function () {
            drawerFor(w, h).draw(tree, canvas, "light", null, false);
          });
          canvas.setAttribute("data-depiction", "drawn");
        } catch (e) {
          fail(canvas, smiles);
        }
      }, function () {
        fail(canvas, smiles);
      });
    } catch (e) {
      fail(canvas, smiles);
    }
  }

  function depictAll(root) {
    var scope = root && root.querySelectorAll ? root : document;
    var els = scope.querySelectorAll("svg[data-smiles]");
    for (var i = 0; i < els.length; i++) {
      depict(els[i]);
    }
    if (scope.matches && scope.matches("svg[data-smiles]")) {
      depict(scope);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { depictAll(document); });
  } else {
    depictAll(document);
  }
  document.addEventListener("htmx:load", function (evt) { depictAll(evt.target); });
  document.addEventListener("htmx:afterSwap", function (evt) { depictAll(evt.target); });
  // Out-of-band swaps (the live channel's rows) land outside the target.
  document.addEventListener("htmx:oobAfterSwap", function (evt) { depictAll(evt.detail && evt.detail.target); });
})();
