// The page: four views (player, inspector, recordings, packager), one shown at a time, chosen by
// the URL's hash (`#player`, `#inspector`, `#recordings`, `#packager`; `#player?src=URL` plays a
// playlist at once, `#recordings?stream=KEY` lists a stream's recordings).
import { initInspector, showInspector } from './inspector.js';
import { initPackager } from './packager.js';
import { initPlayer } from './player.js';
import { initRecordings, showRecordings } from './recordings.js';

const VIEWS = { player: null, inspector: showInspector, recordings: showRecordings, packager: null };

function route() {
  const name = location.hash.slice(1).split('?')[0];
  const view = name in VIEWS ? name : 'player';
  for (const v of Object.keys(VIEWS)) {
    document.getElementById(`view-${v}`).hidden = v !== view;
    document.querySelector(`nav a[data-view="${v}"]`).classList.toggle('active', v === view);
  }
  VIEWS[view]?.();
}

// A file dropped outside a drop target must not replace the page.
for (const type of ['dragover', 'drop']) window.addEventListener(type, (e) => e.preventDefault());

initPlayer();
initRecordings();
initInspector();
initPackager();
window.addEventListener('hashchange', route);
route();
