"""Figure builders: they draw what ``ui.state`` (or ``unlearn_core``) computed, and never call a model.

    canvas    the square canvas as a Plotly figure (Compare, Audit; the Playground's with PLAYGROUND_CANVAS=plotly)
    canvas_payload  the Playground's canvas component: its data (base64 grids), its JS/CSS (canvas_js/), HTML export
    curves    line figures of a history (training, unlearning)
    compare   the Compare page's panels and gap chart
    audit     the audit's epsilon canvas, one point's histograms, the explanations
    geometry  the Geometry page's alpha, heat-map, cloud and sigmoid figures
    images    the Images page's figures and image grids
    html      a figure as a standalone HTML page; figure dicts without animation
    png       a figure as PNG through Kaleido and the system Chromium
"""
