"""State and controllers: everything in the app that computes (no Streamlit, no figures).

    workspace  the Playground's data, original model and history of forget requests
    config     one source of the page's defaults and limits; the URL round trip
    session    session files: a Workspace as JSON and back, validated (bounded to what the app produces)
    share      the link's payload: drawn or uploaded points and the forget history, encoded and checked
    live       a forget run in a background thread whose frames the canvas streams (live mode)
    cache      trained models shared by the server's sessions (keyed by a hash of their configuration, LRU by bytes)
    memory     handing memory that ended sessions freed back to the system (glibc)
    grids      a model's class probabilities on the canvas grid, as uint8 layers
    events     what a chart's selection state says was clicked, and what it does to the workspace
    presets    one-click stories: a configuration and the points to forget
    report     the Playground's metrics table and step counts
    compare    the Compare page: several methods on one forget set, against retraining
    audit      the Forgetting audit page: run_audit's inputs, the summary, one point's numbers
    geometry   the Geometry page's model runs (JiT, class grids, the cloud's window)
    images     the Images page: the image benchmark from widget values, its tables
"""
