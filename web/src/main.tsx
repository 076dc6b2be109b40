// Entry point: the stylesheets and the app.
import { createRoot } from 'react-dom/client';
import './app.css';
import { App } from './App';

const el = document.getElementById('app');
if (el) createRoot(el).render(<App />);
