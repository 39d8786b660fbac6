"""The pure analytics engine: tracked frames in, analytics events out.

One job per module (`geometry`, `zones`, `lines`, `queues`, `heatmap`, `visits`,
`funnel`), composed per camera and per store in `engine`. Import from the modules
themselves (`from analytics.engine.engine import StoreAnalytics`): this package
re-exports nothing, so importing one module does not import the whole engine.
"""
