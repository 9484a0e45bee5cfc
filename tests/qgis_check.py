"""Open a GeoPackage's layers in QGIS (PyQGIS, headless) and print what QGIS sees, as JSON.

Run by tests/test_gpkg.py with the Python that has QGIS's bindings (Debian's
``python3-qgis``: ``/usr/bin/python3``), not the project's virtual environment:
``python3 tests/qgis_check.py FILE.gpkg LAYER…``. For each layer: whether QGIS opened it,
its CRS, the renderer of its default style (the one ``layer_styles`` marks
``useAsDefault``, which QGIS applies when it opens the layer), the fields' aliases, and for
each rule of a rule-based renderer its label, fill colour and the number of features
its filter selects (evaluated by QGIS; an expression error is reported).
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (
    QgsApplication,
    QgsExpression,
    QgsExpressionContext,
    QgsExpressionContextUtils,
    QgsRuleBasedRenderer,
    QgsVectorLayer,
)


def main(path: str, names: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for name in names:
        layer = QgsVectorLayer(f"{path}|layername={name}", name, "ogr")
        info: dict[str, object] = {"valid": layer.isValid()}
        out[name] = info
        if not layer.isValid():
            continue
        renderer = layer.renderer()
        info["crs"] = layer.crs().authid()
        info["renderer"] = type(renderer).__name__
        info["aliases"] = {f.name(): f.alias() for f in layer.fields() if f.name() != "fid"}
        rules = []
        if isinstance(renderer, QgsRuleBasedRenderer):
            context = QgsExpressionContext()
            context.appendScopes(QgsExpressionContextUtils.globalProjectLayerScopes(layer))
            for rule in renderer.rootRule().children():
                text = rule.filterExpression()
                selected, errors = 0, []
                if text != "ELSE":
                    expression = QgsExpression(text)
                    for feature in layer.getFeatures():
                        context.setFeature(feature)
                        value = expression.evaluate(context)
                        if expression.hasEvalError():
                            errors.append(expression.evalErrorString())
                        selected += bool(value)
                rules.append(
                    {
                        "label": rule.label(),
                        "filter": text,
                        "colour": rule.symbol().color().name(),
                        "selected": selected,
                        "errors": sorted(set(errors)),
                    }
                )
        info["rules"] = rules
    return out


if __name__ == "__main__":
    QgsApplication.setPrefixPath("/usr", True)
    app = QgsApplication([], False)
    app.initQgis()
    result = main(sys.argv[1], sys.argv[2:])
    app.exitQgis()
    print(json.dumps(result, ensure_ascii=False))
