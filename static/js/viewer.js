// OMTX-Hub structure viewer: draws every [data-testid="structure-viewer"]
// element's data-url (an mmCIF complex on this server) with Mol*'s
// viewer (vendor/molstar/molstar.js, global `molstar`, loaded before this
// file). The receptor shows as cartoon and the ligand as ball-and-stick
// (Mol*'s default preset); the ligand's surroundings (the pocket residues)
// are shown by focusing on it where Mol*'s API allows.
//
// On the Structures tab, ArrowLeft and ArrowRight follow the previous and
// next links ([data-structure-nav]).
(function () {
  "use strict";

  function setStatus(el, text, state) {
    var p = el.querySelector(".structure-viewer-status");
    if (!p) {
      return;
    }
    if (!text) {
      p.hidden = true;
      return;
    }
    p.hidden = false;
    p.textContent = text;
    if (state) {
      p.setAttribute("data-state", state);
    }
  }

  // focusLigand shows the ligand's surroundings (pocket residues) the way
  // a click on the ligand does. Best effort: the view stays as it is if
  // this build does not offer what it needs.
  function focusLigand(plugin) {
    try {
      var lib = molstar.lib && molstar.lib.structure;
      var structures = plugin.managers.structure.hierarchy.current.structures;
      for (var i = 0; i < structures.length; i++) {
        var comps = structures[i].components;
        for (var j = 0; j < comps.length; j++) {
          var key = comps[j].key || "";
          var obj = comps[j].cell && comps[j].cell.obj;
          if (key.indexOf("ligand") < 0 || !obj || !obj.data) {
            continue;
          }
          var loci = lib.Structure.toStructureElementLoci(obj.data);
          plugin.managers.structure.focus.setFromLoci(loci);
          plugin.managers.camera.focusLoci(loci);
          return true;
        }
      }
    } catch (e) {
      // Keep the whole complex in view.
    }
    return false;
  }

  function show(el) {
    if (el.getAttribute("data-viewer-state")) {
      return;
    }
    var url = el.getAttribute("data-url");
    var format = el.getAttribute("data-format") || "mmcif";
    if (!url) {
      return;
    }
    if (typeof molstar === "undefined" || !molstar.Viewer) {
      el.setAttribute("data-viewer-state", "error");
      setStatus(el, "The 3D viewer could not be loaded.", "error");
      return;
    }
    el.setAttribute("data-viewer-state", "loading");
    var host = document.createElement("div");
    host.className = "structure-viewer-host";
    el.appendChild(host);
    molstar.Viewer.create(host, {
      layoutIsExpanded: false,
      layoutShowControls: false,
      layoutShowRemoteState: false,
      layoutShowSequence: false,
      layoutShowLog: false,
      layoutShowLeftPanel: false,
      viewportShowExpand: false,
      viewportShowSelectionMode: false,
      viewportShowAnimation: false,
      viewportShowTrajectoryControls: false,
      // Nothing is ever fetched from elsewhere.
      pdbProvider: "rcsb",
      emdbProvider: "rcsb",
      disabledExtensions: [
        "pdbe-structure-quality-report", "rcsb-assembly-symmetry", "wwpdb-validation",
        "zenodo-import", "mp4-export", "anvil-membrane-orientation", "dnatco-ntcs",
        "ma-quality-assessment", "sb-ncbr-partial-charges", "tunnels", "backgrounds"
      ]
    }).then(function (viewer) {
      return viewer.loadStructureFromUrl(url, format, false).then(function () {
        el.setAttribute("data-pocket", focusLigand(viewer.plugin) ? "shown" : "none");
        el.setAttribute("data-viewer-state", "ready");
        setStatus(el, "");
      });
    }).catch(function (err) {
      el.setAttribute("data-viewer-state", "error");
      setStatus(el, "The 3D structure could not be shown" + (err && err.message ? ": " + err.message : "."), "error");
    });
  }

  function showAll(root) {
    var els = (root || document).querySelectorAll('[data-testid="structure-viewer"][data-url]');
    for (var i = 0; i < els.length; i++) {
      show(els[i]);
    }
  }

  // Arrow keys step through the ligands, unless typing or a modifier.
  document.addEventListener("keydown", function (evt) {
    if (evt.defaultPrevented || evt.altKey || evt.ctrlKey || evt.metaKey || evt.shiftKey) {
      return;
    }
    var dir = evt.key === "ArrowLeft" ? "prev" : evt.key === "ArrowRight" ? "next" : "";
    if (!dir) {
      return;
    }
    var t = evt.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) {
      return;
    }
    var link = document.querySelector('a[data-structure-nav="' + dir + '"]');
    if (link) {
      evt.preventDefault();
      link.click();
    }
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { showAll(document); });
  } else {
    showAll(document);
  }
  document.addEventListener("htmx:load", function (evt) { showAll(evt.target); });
})();
