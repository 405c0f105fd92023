"""The dashboard's screens. The model they render lives in `kudev.view_model`."""
