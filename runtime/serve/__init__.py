"""`leadrules serve`: rule files as a real-time HTTP scoring service (Starlette on uvicorn).

live.py holds the loaded rule files and reloads them; auth.py checks keys and HubSpot signatures;
decisions.py writes the decision log; app.py is the HTTP application. See docs/serve.md.
"""
