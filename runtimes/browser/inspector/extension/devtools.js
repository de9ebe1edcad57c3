// Adds the inspector page as a "strata" panel of the browser's devtools.
chrome.devtools.panels.create("strata", "", "index.html");
