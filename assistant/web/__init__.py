"""The Chainlit shell: adapts UI events to the agent loop and renders its events."""
